/*
 * The PC platform as a program built for QEMU's pc machine sees it: fw_cfg (ports and DMA), PCI
 * configuration mechanism #1 (the host bridge, pci-testdev found by its ID, BAR sizing, its ioeventfd
 * tests as kvm-unit-tests runs them), the ACPI tables found by the BIOS-area scan (RSDT, MADT, FADT),
 * the PM timer, and QEMU's pc-testdev. Prints only what QEMU's pc and SoftKvm's PC share, so the output
 * is the same under both (run QEMU with -smp 2 -m 64 -device pc-testdev -device pci-testdev).
 */
#include "../common/io.h"

static inline u32 bswap32(u32 v) { return __builtin_bswap32(v); }

static int failures;

static void check(const char *what, int ok)
{
    puts_serial(what);
    puts_serial(ok ? ": ok\n" : ": FAIL\n");
    if (!ok) {
        failures++;
    }
}

static int name_is(const char *s, const char *t, u32 n)
{
    for (u32 i = 0; i < n; i++) {
        if (s[i] != t[i]) {
            return 0;
        }
        if (!s[i]) {
            return 1;
        }
    }
    return 1;
}

/* ---- fw_cfg ---- */

#define FW_CFG_SELECT 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_DMA 0x514

static void fw_select(u16 key) { outw(FW_CFG_SELECT, key); }

static u32 fw_read(void *buf, u32 n)
{
    u8 *p = buf;
    for (u32 i = 0; i < n; i++) {
        p[i] = inb(FW_CFG_DATA);
    }
    return n;
}

struct fw_dma { u32 control, length; u32 address_hi, address_lo; } __attribute__((aligned(16)));
static struct fw_dma dma;
static u8 e820[20 * 8];

static u32 fw_dma_read(u16 key, void *buf, u32 n)
{
    dma.control = bswap32(((u32)key << 16) | 0x08 | 0x02); /* SELECT | READ */
    dma.length = bswap32(n);
    dma.address_hi = 0;
    dma.address_lo = bswap32((u32)buf);
    outl(FW_CFG_DMA, 0);
    outl(FW_CFG_DMA + 4, bswap32((u32)&dma));
    return bswap32(*(volatile u32 *)&dma.control);
}

static void test_fw_cfg(void)
{
    char sig[5] = {0};
    u32 id = 0, nb = 0;
    u32 ram[2];
    fw_select(0x0000);
    fw_read(sig, 4);
    check("fw_cfg signature QEMU", name_is(sig, "QEMU", 4));
    fw_select(0x0001);
    fw_read(&id, 4);
    check("fw_cfg ID: traditional and DMA", (id & 3) == 3);
    check("fw_cfg DMA register reads QEMU CFG", inl(FW_CFG_DMA) == bswap32(0x51454d55) && inl(FW_CFG_DMA + 4) == bswap32(0x20434647));
    fw_select(0x0005);
    fw_read(&nb, 2);
    line("fw_cfg nb_cpus", nb);
    fw_select(0x0003);
    fw_read(ram, 8);
    line("fw_cfg ram_size MiB", (ram[0] >> 20) | (ram[1] << 12));

    u32 count;
    fw_select(0x0019);
    fw_read(&count, 4);
    count = bswap32(count);
    u16 key = 0;
    u32 size = 0;
    for (u32 i = 0; i < count; i++) {
        struct { u32 size; u16 select; u16 reserved; char name[56]; } f;
        fw_read(&f, sizeof f);
        if (name_is(f.name, "etc/e820", 56)) {
            key = (u16)((f.select >> 8) | (f.select << 8));
            size = bswap32(f.size);
        }
    }
    check("fw_cfg directory has etc/e820", key != 0 && size >= 20 && size % 20 == 0);
    if (size > sizeof e820) {
        size = sizeof e820;
    }
    check("fw_cfg DMA read of etc/e820 completes", fw_dma_read(key, e820, size) == 0);
    /* The RAM entries (QEMU 7.1+ also reserves the AMD HyperTransport hole when the CPU vendor is AMD). */
    u32 *e = (u32 *)e820;
    for (u32 k = 0; k < size / 20; k++, e += 5) {
        if (e[4] == 1) {
            puts_serial("e820 RAM at 0x");
            put_hex(e[1]);
            put_hex(e[0]);
            puts_serial(", ");
            put_dec((e[2] >> 20) | (e[3] << 12));
            puts_serial(" MiB\n");
        }
    }
}

/* ---- PCI ---- */

static u32 pci_addr(u32 dev, u32 reg) { return 0x80000000u | (dev << 11) | reg; }

static u32 cfg_read(u32 dev, u32 reg)
{
    outl(0xCF8, pci_addr(dev, reg));
    return inl(0xCFC);
}

static void cfg_write(u32 dev, u32 reg, u32 v)
{
    outl(0xCF8, pci_addr(dev, reg));
    outl(0xCFC, v);
}

static u32 bar_size(u32 dev, int bar, u32 *kind)
{
    u32 reg = 0x10 + 4 * (u32)bar;
    u32 old = cfg_read(dev, reg);
    u16 cmd = (u16)cfg_read(dev, 4);
    cfg_write(dev, 4, cmd & ~3u); /* decoding off while sizing */
    cfg_write(dev, reg, 0xFFFFFFFFu);
    u32 v = cfg_read(dev, reg);
    cfg_write(dev, reg, old);
    cfg_write(dev, 4, cmd);
    *kind = old & 1;
    return ~(v & (old & 1 ? ~3u : ~15u)) + 1;
}

/* pci-testdev's two BARs are the same device: one set of accessors per address space, as kvm-unit-tests has. */
struct space {
    u8 (*read8)(u32 a);
    u32 (*read32)(u32 a);
    void (*write8)(u32 a, u8 v);
};

static u8 io_rd8(u32 a) { return inb((u16)a); }
static u32 io_rd32(u32 a) { return inl((u16)a); }
static void io_wr8(u32 a, u8 v) { outb((u16)a, v); }

static const struct space mmio_space = {rd8, rd32, wr8};
static const struct space io_space = {io_rd8, io_rd32, io_wr8};

/* kvm-unit-tests' pci_testdev_one; header: test (0), width (1), offset (4), data (8), count (12), name (16). */
static int testdev_one(const struct space *s, u32 base, int nr)
{
    s->write8(base, (u8)nr);
    if (s->read32(base + 12) != 0 || s->read8(base + 1) != 1) {
        return 0;
    }
    u32 data = s->read32(base + 8);
    u32 off = s->read32(base + 4);
    for (int i = 0; i < 16; i++) {
        s->write8(base + off, (u8)data);
    }
    /* 16: the device saw the writes (test 0); 0: the test's ioeventfd took them in the hypervisor (tests 1, 2) */
    u32 count = s->read32(base + 12);
    puts_serial("count ");
    put_dec(count);
    putc_serial(' ');
    return count == (nr == 0 ? 16u : 0u);
}

static void put_name(const struct space *s, u32 base)
{
    for (u32 i = 16; i < 64; i++) {
        char c = (char)s->read8(base + i);
        if (!c) {
            break;
        }
        putc_serial(c);
    }
}

static void test_pci(void)
{
    outl(0xCF8, 0x80000000u);
    check("CONFIG_ADDRESS reads back", inl(0xCF8) == 0x80000000u);
    line("pci 00.0 vendor:device", cfg_read(0, 0));
    line("pci 00.0 class", cfg_read(0, 8) >> 8);
    outl(0xCF8, 0x80010000u); /* bus 1: nothing */
    check("bus 1 reads all ones", inl(0xCFC) == 0xFFFFFFFFu);

    int found = -1;
    for (u32 dev = 0; dev < 32; dev++) {
        if (cfg_read(dev, 0) == 0x00051B36u) {
            found = (int)dev;
        }
    }
    check("pci-testdev 1b36:0005 on bus 0", found >= 0);
    if (found < 0) {
        return;
    }
    u32 dev = (u32)found;
    line("pci-testdev class", cfg_read(dev, 8) >> 8);
    u32 kind0, kind1;
    u32 size0 = bar_size(dev, 0, &kind0);
    u32 size1 = bar_size(dev, 1, &kind1);
    line("pci-testdev BAR0 io?", kind0);
    line("pci-testdev BAR0 size", size0);
    line("pci-testdev BAR1 io?", kind1);
    line("pci-testdev BAR1 size", size1);
    check("pci-testdev decodes memory and I/O", (cfg_read(dev, 4) & 3) == 3);
    u32 mem = cfg_read(dev, 0x10) & ~15u;
    u16 io = (u16)(cfg_read(dev, 0x14) & ~3u);
    for (int nr = 0; nr < 6; nr++) {
        const struct space *sp = nr < 3 ? &mmio_space : &io_space;
        u32 base = nr < 3 ? mem : io;
        int ok = testdev_one(sp, base, nr % 3);
        put_name(sp, base);
        check("", ok);
    }
    wr8(mem, 0xFF); /* stop the test */
    outb(io, 0xFF);
}

/* ---- ACPI ---- */

static u8 sum(u32 a, u32 n)
{
    u8 s = 0;
    for (u32 i = 0; i < n; i++) {
        s = (u8)(s + rd8(a + i));
    }
    return s;
}

static int sig_is(u32 a, const char *s) { return rd8(a) == s[0] && rd8(a + 1) == s[1] && rd8(a + 2) == s[2] && rd8(a + 3) == s[3]; }

static u16 pm_timer_port;
static u16 pm1a_control;
static int s5_type = -1;

/* \_S5 in the DSDT's AML: NameOp "_S5_" PackageOp PkgLength NumElements, then SLP_TYPa as an integer. */
static void find_s5(u32 dsdt)
{
    u32 end = dsdt + rd32(dsdt + 4);
    for (u32 a = dsdt + 36; a + 8 < end; a++) {
        if (sig_is(a, "_S5_") && rd8(a + 4) == 0x12) {
            u32 el = a + 5 + 1 + (rd8(a + 5) >> 6) + 1; /* PkgLength's extra bytes, NumElements */
            u8 op = rd8(el);
            s5_type = op == 0x00 ? 0 : op == 0x01 ? 1 : op == 0x0A ? rd8(el + 1) : -1;
            return;
        }
    }
}

static void test_madt(u32 madt)
{
    u32 len = rd32(madt + 4);
    u32 lapics = 0, ioapics = 0, nmis = 0;
    line("madt local apic address", rd32(madt + 36));
    line("madt pcat_compat", rd32(madt + 40) & 1);
    for (u32 at = madt + 44; at < madt + len; at += rd8(at + 1)) {
        switch (rd8(at)) {
        case 0:
            if (rd32(at + 4) & 1) {
                puts_serial("madt lapic uid ");
                put_dec(rd8(at + 2));
                puts_serial(" apic id ");
                put_dec(rd8(at + 3));
                putc_serial('\n');
                lapics++;
            }
            break;
        case 1:
            line("madt ioapic address", rd32(at + 4));
            line("madt ioapic gsi base", rd32(at + 8));
            ioapics++;
            break;
        case 2:
            if (rd8(at + 3) == 0 || rd8(at + 3) == 9) {
                puts_serial("madt override irq ");
                put_dec(rd8(at + 3));
                puts_serial(" gsi ");
                put_dec(rd32(at + 4));
                puts_serial(" flags 0x");
                put_hex(rd16(at + 8));
                putc_serial('\n');
            }
            break;
        case 4:
            nmis++;
            break;
        default:
            break;
        }
        if (rd8(at + 1) == 0) {
            break;
        }
    }
    line("madt enabled lapics", lapics);
    line("madt ioapics", ioapics);
}

static void test_fadt(u32 fadt)
{
    line("fadt sci irq", rd16(fadt + 46));
    line("fadt pm1a event block", rd32(fadt + 56));
    line("fadt pm1a control block", rd32(fadt + 64));
    line("fadt pm timer block", rd32(fadt + 76));
    line("fadt pm timer length", rd8(fadt + 91));
    pm_timer_port = (u16)rd32(fadt + 76);
    pm1a_control = (u16)rd32(fadt + 64);
    u32 dsdt = rd32(fadt + 40);
    find_s5(dsdt);
    check("dsdt declares \\_S5", s5_type >= 0);
    check("fadt dsdt has signature and checksum", sig_is(dsdt, "DSDT") && sum(dsdt, rd32(dsdt + 4)) == 0);
    check("fadt facs has signature", sig_is(rd32(fadt + 36), "FACS"));
    /* QEMU's pc has a revision 1 FADT (no reset register); SoftKvm's names the PIIX reset control. */
    int reset_ok = 1;
    if (rd32(fadt + 4) >= 129 && (rd32(fadt + 112) & (1u << 10))) {
        reset_ok = rd8(fadt + 116) == 1 && rd32(fadt + 120) == 0xCF9 && rd8(fadt + 128) == 6;
    }
    check("fadt reset register, if any, is 6 to port 0xcf9", reset_ok);
}

static void test_acpi(void)
{
    u32 rsdp = 0;
    for (u32 a = 0xE0000; a < 0x100000; a += 16) {
        if (sig_is(a, "RSD ") && sig_is(a + 4, "PTR ") && sum(a, 20) == 0) {
            rsdp = a;
            break;
        }
    }
    check("RSDP found in 0xE0000-0xFFFFF", rsdp != 0);
    if (!rsdp) {
        return;
    }
    u32 rsdt = rd32(rsdp + 16);
    check("RSDT signature and checksum", sig_is(rsdt, "RSDT") && sum(rsdt, rd32(rsdt + 4)) == 0);
    u32 n = (rd32(rsdt + 4) - 36) / 4;
    int have_madt = 0, have_fadt = 0, bad = 0;
    for (u32 i = 0; i < n; i++) {
        u32 t = rd32(rsdt + 36 + 4 * i);
        if (sum(t, rd32(t + 4)) != 0) {
            bad++;
        }
        if (sig_is(t, "APIC")) {
            have_madt = 1;
            test_madt(t);
        } else if (sig_is(t, "FACP")) {
            have_fadt = 1;
            test_fadt(t);
        }
    }
    check("every RSDT table sums to zero", bad == 0);
    check("RSDT lists the MADT", have_madt);
    check("RSDT lists the FADT", have_fadt);
}

static void test_pm_timer(void)
{
    if (!pm_timer_port) {
        return;
    }
    u32 a = inl(pm_timer_port) & 0xFFFFFF;
    u32 b = a;
    for (int i = 0; i < 1000000 && b == a; i++) {
        b = inl(pm_timer_port) & 0xFFFFFF;
    }
    check("pm timer counts", b != a);
}

/* ---- pc-testdev ---- */

static void test_pc_testdev(void)
{
    outl(0xE0, 0x12345678u);
    check("pc-testdev ioport round trip", inl(0xE0) == 0x12345678u);
    check("pc-testdev ioport byte 2", inb(0xE2) == 0x34);
    outb(0xE9, 0xAB);
    check("pc-testdev ioport byte write", inl(0xE0) == 0x1234AB78u && inw(0xEA) == 0x1234);
    wr32(0xFF00FFFC, 0xDEADBEEFu);
    wr32(0xFF000000, 0x01020304u);
    check("pc-testdev iomem round trip", rd32(0xFF00FFFC) == 0xDEADBEEFu && rd8(0xFF000001) == 0x03);
    outl(0xE4, 0x00200000u); /* flush a page: it keeps its contents */
    check("pc-testdev flush keeps memory", rd32(0x100000) != 0);
}

/*
 * A word of the Multiboot command line says how to end: "poweroff" (ACPI S5), "reset" (port 0xCF9), else
 * isa-debug-exit. (QEMU puts the kernel's file name first, SoftKvm only what --append says.)
 */
static int cmdline_has(u32 info, const char *word)
{
    if (!(rd32(info) & 4)) {
        return 0;
    }
    const char *c = (const char *)rd32(info + 16);
    while (*c) {
        const char *w = word;
        const char *p = c;
        while (*w && *p == *w) {
            w++;
            p++;
        }
        if (!*w && (*p == 0 || *p == ' ')) {
            return 1;
        }
        while (*c && *c != ' ') {
            c++;
        }
        while (*c == ' ') {
            c++;
        }
    }
    return 0;
}

void main(u32 magic, u32 info)
{
    puts_serial("SoftKvm x86 pcplat\n");
    line("multiboot", magic == 0x2BADB002);
    test_fw_cfg();
    test_pci();
    test_acpi();
    test_pm_timer();
    test_pc_testdev();
    puts_serial(failures ? "FAIL\n" : "PASS\n");
    if (!failures && cmdline_has(info, "poweroff") && pm1a_control && s5_type >= 0) {
        outw(pm1a_control, (u16)((s5_type << 10) | (1 << 13)));
    } else if (!failures && cmdline_has(info, "reset")) {
        outb(0xCF9, 0x06);
    }
    guest_exit(failures ? 1 : 0);
}

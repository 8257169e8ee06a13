/*
 * A virtio-pci console driven by a program built for QEMU's pc machine, as Linux's virtio_pci_modern
 * drives it: find the function (1af4:1043) by configuration mechanism #1, walk its capabilities to the
 * common, notify, ISR and device structures, negotiate VIRTIO_F_VERSION_1 only, set up the transmit queue
 * (queue 1 of port 0 without MULTIPORT), send a line, poll the used ring, and read the ISR (INTx mode).
 * Under QEMU: -device virtio-serial-pci,disable-legacy=on -device virtconsole,chardev=c0 with the UART
 * and the console on one stdio chardev; under SoftKvm: the default (--x86-virtio pci).
 */
#include "../common/io.h"

static int failures;

static void check(const char *what, int ok)
{
    puts_serial(what);
    puts_serial(ok ? ": ok\n" : ": FAIL\n");
    if (!ok) {
        failures++;
    }
}

static u32 cfg_read(u32 dev, u32 reg)
{
    outl(0xCF8, 0x80000000u | (dev << 11) | (reg & 0xFC));
    return inl(0xCFC) >> ((reg & 3) * 8);
}

static void cfg_write16(u32 dev, u32 reg, u16 v)
{
    outl(0xCF8, 0x80000000u | (dev << 11) | (reg & 0xFC));
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"((u16)(0xCFC + (reg & 2))));
}

/* Rings of the transmit queue, 8 entries: descriptors, available ring, used ring. */
static u8 rings[3 * 4096] __attribute__((aligned(4096)));
static const char message[] = "hello from the virtio-pci console\n";

static u32 bar_address(u32 dev, u32 bar)
{
    u32 lo = cfg_read(dev, 0x10 + 4 * bar);
    if ((lo & 1) == 0 && (lo & 6) == 4 && cfg_read(dev, 0x14 + 4 * bar) != 0) {
        return 0; /* above 4 GiB: out of reach with paging off */
    }
    return lo & ~15u;
}

void main(u32 magic, u32 info)
{
    (void)magic;
    (void)info;
    puts_serial("SoftKvm x86 virtiopci\n");
    int dev = -1;
    for (u32 d = 0; d < 32; d++) {
        if (cfg_read(d, 0) == 0x10431AF4u) {
            dev = (int)d;
            break;
        }
    }
    check("virtio-pci console 1af4:1043 on bus 0", dev >= 0);
    if (dev < 0) {
        guest_exit(1);
    }
    u32 d = (u32)dev;
    line("class", cfg_read(d, 8) >> 8);
    line("revision", cfg_read(d, 8) & 0xFF);
    check("capability list", (cfg_read(d, 6) & 0x10) != 0);

    u32 common = 0, notify = 0, isr = 0, device = 0, multiplier = 0;
    int msix = 0, pcicfg = 0;
    for (u32 at = cfg_read(d, 0x34) & 0xFF; at; at = cfg_read(d, at + 1) & 0xFF) {
        u32 id = cfg_read(d, at) & 0xFF;
        if (id == 0x11) {
            msix = 1;
            continue;
        }
        if (id != 0x09) {
            continue;
        }
        u32 type = cfg_read(d, at + 3) & 0xFF;
        u32 bar = cfg_read(d, at + 4) & 0xFF;
        u32 offset = cfg_read(d, at + 8);
        u32 base = type == 5 ? 0 : bar_address(d, bar);
        switch (type) {
        case 1: common = base + offset; break;
        case 2: notify = base + offset; multiplier = cfg_read(d, at + 16); break;
        case 3: isr = base + offset; break;
        case 4: device = base + offset; break;
        case 5: pcicfg = 1; break;
        default: break;
        }
    }
    check("common, notify, ISR and device structures reachable", common && notify && isr && device);
    check("PCI configuration access capability", pcicfg);
    check("MSI-X capability", msix);
    if (!(common && notify && isr && device)) {
        guest_exit(1);
    }
    cfg_write16(d, 4, (u16)(cfg_read(d, 4) | 6)); /* memory space, bus master */

    wr8(common + 0x14, 0); /* reset */
    check("status 0 after reset", rd8(common + 0x14) == 0);
    wr8(common + 0x14, 1 | 2);
    wr32(common + 0x00, 1);
    check("device offers VIRTIO_F_VERSION_1", (rd32(common + 0x04) & 1) != 0);
    wr32(common + 0x08, 0);
    wr32(common + 0x0C, 0);
    wr32(common + 0x08, 1);
    wr32(common + 0x0C, 1);
    wr8(common + 0x14, 1 | 2 | 8);
    check("FEATURES_OK accepted", (rd8(common + 0x14) & 8) != 0);
    line("num_queues >= 2", rd16(common + 0x12) >= 2);

    u32 desc = (u32)rings, avail = desc + 4096, used = desc + 8192;
    wr16(common + 0x16, 1);
    check("queue 1 size is a power of two", rd16(common + 0x18) != 0 && (rd16(common + 0x18) & (rd16(common + 0x18) - 1)) == 0);
    wr16(common + 0x18, 8);
    wr32(common + 0x20, desc);
    wr32(common + 0x24, 0);
    wr32(common + 0x28, avail);
    wr32(common + 0x2C, 0);
    wr32(common + 0x30, used);
    wr32(common + 0x34, 0);
    u32 notify_off = rd16(common + 0x1E);
    wr16(common + 0x1C, 1);
    check("queue 1 enabled", rd16(common + 0x1C) == 1);
    wr8(common + 0x14, 1 | 2 | 8 | 4); /* DRIVER_OK */
    check("DRIVER_OK", (rd8(common + 0x14) & 0x44) == 4);

    wr32(desc + 0, (u32)message);
    wr32(desc + 4, 0);
    wr32(desc + 8, sizeof message - 1);
    wr16(desc + 12, 0);
    wr16(avail + 4, 0);
    __asm__ volatile("" ::: "memory");
    wr16(avail + 2, 1);
    wr16(notify + notify_off * multiplier, 1);
    int polls = 0;
    while (rd16(used + 2) != 1 && polls < 10000000) {
        polls++;
    }
    check("used ring returned the buffer", rd16(used + 2) == 1 && rd32(used + 4) == 0);
    check("ISR: used buffer, cleared by the read", (rd8(isr) & 1) == 1 && rd8(isr) == 0);
    wr8(common + 0x14, 0);
    puts_serial(failures ? "FAIL\n" : "PASS\n");
    guest_exit(failures ? 1 : 0);
}

/*
 * MSI-X from a PCI function through the GICv3 ITS, as Linux's virtio_pci and its-pci-msi drivers set
 * it up: vCPU 0 starts the other vCPUs (each enables LPIs at its redistributor), finds the virtio-pci
 * console (1af4:1043) on bus 0 through ECAM, assigns its BARs, enables MSI-X and points table entry 1 at
 * GITS_TRANSLATER with EventID 1. The ITS maps DeviceID = the function's requester ID (bus << 8 |
 * device << 3 | function, as the device tree's msi-map says, 1:1) with MAPD, and the event with MAPTI
 * to LPI 8192 in vCPU 0's collection. The console's transmit queue (queue 1) uses vector 1: every buffer
 * the device returns sends the MSI. Checks, one line each: vCPU 0 takes the LPI; after MOVI to each
 * other vCPU's collection, that vCPU takes it (one '.' sent per vCPU); a masked vector is held pending
 * in the Pending Bit Array and sent when unmasked; with the ITS's translation discarded the write is
 * dropped. Prints PASS or FAIL and powers off. The output is the same under QEMU (see the Makefile).
 */

/* Tables, outside the image: as guests/arm64/its, plus the transmit queue's rings. */
#define CMDQ 0x40800000UL
#define CMDQ_SIZE 0x10000UL
#define DEVICE_TABLE 0x40810000UL
#define COLLECTION_TABLE 0x40820000UL
#define PROP_TABLE 0x40830000UL
#define ITT 0x40840000UL
#define RINGS 0x40850000UL
#define PEND_TABLES 0x41000000UL

#define PROP_IDBITS 14
#define LPI_BASE 8192
#define LPI_PRIORITY 0xa0
#define EVENT 1
#define VECTOR 1

#define ECAM 0x3f000000UL
#define MSIX_BAR_ADDRESS 0x10000000UL /* the 32-bit memory window */
#define VIRTIO_BAR_ADDRESS 0x10004000UL

#include "its.h"

typedef unsigned short u16;

static u64 common, notify, msix_table, msix_pba;
static u32 notify_multiplier;
static u16 avail_idx;

static inline u16 rd16(u64 a) { return *(volatile u16 *)a; }
static inline void wr16(u64 a, u16 v) { *(volatile u16 *)a = v; }
static inline unsigned char rd8(u64 a) { return *(volatile unsigned char *)a; }

static void fail(const char *what)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw("\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

static void put_hex(u64 v, int digits)
{
    for (int s = (digits - 1) * 4; s >= 0; s -= 4) {
        int d = (int)(v >> s & 0xf);
        putc_raw((char)(d < 10 ? '0' + d : 'a' + d - 10));
    }
}

static u64 cfg(u32 rid, u32 reg) { return ECAM + ((u64)rid << 12) + reg; }

void secondary_main(u64 id) { lpi_secondary_main(id); }

/* Sends text on the console's transmit queue and returns when the device has used the buffer. */
static void send(const char *text, u32 length)
{
    u64 desc = RINGS, avail = RINGS + 0x1000, used = RINGS + 0x2000;
    u16 slot = avail_idx % 8;
    wr64(desc + 16 * slot, (u64)text);
    wr32(desc + 16 * slot + 8, length);
    wr16(desc + 16 * slot + 12, 0);
    wr16(avail + 4 + 2 * slot, slot);
    __asm__ volatile("dsb sy" ::: "memory");
    wr16(avail + 2, ++avail_idx);
    __asm__ volatile("dsb sy" ::: "memory");
    wr16(notify + 1 * notify_multiplier, 1); /* queue 1 (notify_off 1 read from the device below) */
    for (u64 spin = 0; rd16(used + 2) != avail_idx; spin++)
        if (spin > 100000000)
            fail("the console did not use the buffer");
}

static u32 text_length(const char *s)
{
    u32 n = 0;
    while (s[n])
        n++;
    return n;
}

static void say(const char *text) { send(text, text_length(text)); }

/* The function's virtio structures and MSI-X table from its capability list; returns the MSI-X capability. */
static u32 find_structures(u32 rid)
{
    u32 msix = 0;
    for (u32 at = rd32(cfg(rid, 0x34)) & 0xff; at; at = rd32(cfg(rid, at)) >> 8 & 0xff) {
        u32 head = rd32(cfg(rid, at));
        if ((head & 0xff) == 0x11) {
            msix = at;
            continue;
        }
        if ((head & 0xff) != 0x09)
            continue;
        u32 type = head >> 24, bar = rd32(cfg(rid, at + 4)) & 0xff, offset = rd32(cfg(rid, at + 8));
        u64 base = bar == 4 ? VIRTIO_BAR_ADDRESS : 0;
        if (type == 1)
            common = base + offset;
        else if (type == 2) {
            notify = base + offset;
            notify_multiplier = rd32(cfg(rid, at + 16));
        }
    }
    if (!msix || !common || !notify)
        fail("no MSI-X capability or virtio structures in BAR 4");
    u32 table = rd32(cfg(rid, msix + 4)), pba = rd32(cfg(rid, msix + 8));
    if ((table & 7) != 1 || (pba & 7) != 1)
        fail("the MSI-X table or PBA is not in BAR 1");
    msix_table = MSIX_BAR_ADDRESS + (table & ~7u);
    msix_pba = MSIX_BAR_ADDRESS + (pba & ~7u);
    return msix;
}

static void virtio_start(void)
{
    wr8(common + 0x14, 0); /* reset */
    wr8(common + 0x14, 1 | 2);
    wr32(common + 0x00, 1);
    if (!(rd32(common + 0x04) & 1))
        fail("no VIRTIO_F_VERSION_1");
    wr32(common + 0x08, 0);
    wr32(common + 0x0c, 0);
    wr32(common + 0x08, 1);
    wr32(common + 0x0c, 1);
    wr8(common + 0x14, 1 | 2 | 8);
    if (!(rd8(common + 0x14) & 8))
        fail("FEATURES_OK refused");
    wr16(common + 0x10, 0xffff); /* config_msix_vector: none */
    wr16(common + 0x16, 1);      /* queue_select: transmitq */
    wr16(common + 0x18, 8);
    wr64(common + 0x20, RINGS);
    wr64(common + 0x28, RINGS + 0x1000);
    wr64(common + 0x30, RINGS + 0x2000);
    wr16(common + 0x1a, VECTOR);
    if (rd16(common + 0x1a) != VECTOR)
        fail("queue_msix_vector refused");
    if (rd16(common + 0x1e) != 1)
        fail("queue_notify_off is not 1");
    wr16(common + 0x1c, 1);
    wr8(common + 0x14, 1 | 2 | 8 | 4); /* DRIVER_OK */
}

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301);
    wr32(GICD_BASE, (1u << 4) | (1u << 1) | 1u); /* ARE, EnableGrp1NS */
    for (u32 lpi = LPI_BASE; lpi < 1u << PROP_IDBITS; lpi++)
        wr8(PROP_TABLE + lpi - LPI_BASE, LPI_PRIORITY | 1);
    __asm__ volatile("dsb sy" ::: "memory");
    lpi_cpu_init(0);
    u64 n = start_lpi_cpus();
    puts_raw("MSI-X: ");
    put_dec(n);
    puts_raw(" vCPUs with LPIs enabled\n");

    u32 rid = 0x10000;
    for (u32 dev = 0; dev < 32; dev++)
        if (rd32(cfg(dev << 3, 0)) == 0x10431af4u) {
            rid = dev << 3;
            break;
        }
    if (rid == 0x10000)
        fail("no virtio-pci console (1af4:1043) on bus 0");
    wr32(cfg(rid, 0x14), (u32)MSIX_BAR_ADDRESS); /* BAR 1 */
    wr32(cfg(rid, 0x20), (u32)VIRTIO_BAR_ADDRESS); /* BAR 4, 64-bit */
    wr32(cfg(rid, 0x24), 0);
    wr32(cfg(rid, 0x04), rd32(cfg(rid, 0x04)) | 6); /* memory decoding, bus master */
    u32 msix = find_structures(rid);
    wr16(cfg(rid, msix + 2), 1u << 15); /* MSI-X Enable */
    puts_raw("virtio-pci console at 00:");
    put_hex(rid >> 3, 2);
    puts_raw(".0, requester ID 0x");
    put_hex(rid, 4);
    if ((rd32(cfg(rid, msix)) >> 16 & 0x7ff) + 1 < 2)
        fail("fewer than 2 MSI-X vectors");
    puts_raw(", MSI-X enabled\n");

    setup_tables();
    mapd(rid, 4, ITT, 1);
    for (u64 i = 0; i < n; i++)
        mapc((u32)i, its_rdbase(i));
    mapti(rid, EVENT, LPI_BASE, 0);
    sync(its_rdbase(0));
    u64 entry = msix_table + 16 * VECTOR;
    wr32(entry + 0, (u32)GITS_TRANSLATER);
    wr32(entry + 4, (u32)(GITS_TRANSLATER >> 32));
    wr32(entry + 8, EVENT);
    wr32(entry + 12, 0); /* unmasked */
    virtio_start();
    nothing_pending("an LPI pending before the device sent anything");

    say("virtio-pci console: this buffer's MSI-X goes through the ITS\n");
    take(LPI_BASE, "vCPU 0 did not take LPI 8192 from the MSI-X vector");
    nothing_pending("the MSI-X was delivered twice");
    puts_raw("vCPU 0 took LPI 8192: DeviceID = requester ID, EventID = the vector's data\n");

    puts_raw("MOVI to each vCPU's collection: ");
    for (u64 i = 1; i < n; i++) {
        movi(rid, EVENT, (u32)i);
        say(".");
        wait_taken(i, 1, LPI_BASE, "a vCPU did not take the MSI-X's LPI");
    }
    puts_raw(" each vCPU took the LPI once\n");

    movi(rid, EVENT, 0);
    wr32(entry + 12, 1); /* masked */
    say("masked\n");
    nothing_pending("a masked vector was sent");
    if (!(rd32(msix_pba) & (1u << VECTOR)))
        fail("the masked vector is not pending in the PBA");
    wr32(entry + 12, 0);
    take(LPI_BASE, "the unmasked vector was not sent");
    if (rd32(msix_pba) & (1u << VECTOR))
        fail("the vector is still pending in the PBA");
    puts_raw("a masked vector waits in the PBA and is sent when unmasked\n");

    discard(rid, EVENT);
    say("discarded\n");
    nothing_pending("a discarded translation still interrupts");
    puts_raw("DISCARD: the ITS drops the device's write\n");

    for (u64 i = 1; i < n; i++)
        if (taken[i] != 1)
            fail("a vCPU took an LPI more than once");
    puts_raw("PASS\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

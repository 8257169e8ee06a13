/*
 * GICv3 ITS and LPI test: vCPU 0 starts every other vCPU with PSCI CPU_ON; each vCPU points its
 * redistributor at the shared property table and its own pending table and enables LPIs. vCPU 0 then
 * programs the ITS (device and collection tables from GITS_BASERn, a command queue) and checks, one
 * line each: MAPD/MAPC/MAPTI/SYNC and INT reach every vCPU with its own LPI; MOVI moves an event to
 * vCPU 0; INV makes a property change count (a disabled LPI stays pending); CLEAR removes a pending
 * LPI; INVALL re-reads a collection's properties; a bit set in a pending table before LPIs were
 * enabled makes the LPI pending; MAPI maps EventID = LPI; DISCARD and MAPD V=0 end
 * translations, and commands that then fail are skipped without stalling the queue. The ITS's layout
 * (PTA, ITT entry size, table types) is read from GITS_TYPER and GITS_BASERn, so the same binary runs
 * under QEMU's own ITS. Prints PASS or FAIL and powers off.
 */
#include "guest.h"

#define GITS_BASE 0x08080000UL

/* Tables, outside the image: the command queue, device, collection and property tables, two ITTs,
 * and one 64 KiB-aligned pending table per vCPU (MAX_CPUS of them end 48 MiB into RAM). */
#define CMDQ 0x40800000UL
#define CMDQ_SIZE 0x10000UL
#define DEVICE_TABLE 0x40810000UL
#define COLLECTION_TABLE 0x40820000UL
#define PROP_TABLE 0x40830000UL
#define ITT1 0x40840000UL
#define ITT2 0x40900000UL
#define PEND_TABLES 0x41000000UL

#define PROP_IDBITS 14 /* INTIDs below 16384 */
#define LPI_BASE 8192
#define LPI_PRIORITY 0xa0
#define DEV1 1 /* event i -> LPI 8192 + i on vCPU i's collection i */
#define DEV1_BITS 10
#define DEV2 2 /* MAPI: event = LPI */
#define DEV2_BITS 14
#define MAPI_LPI 8500
#define PENDING_EVENT 1000
#define PENDING_LPI 9000

#define PSCI_INVALID_PARAMETERS (-2)

static volatile u32 online[MAX_CPUS];
static volatile u32 taken[MAX_CPUS];
static volatile u32 last_lpi[MAX_CPUS];
static u64 rdbase[MAX_CPUS]; /* what MAPC names: a processor number or a physical address */
static u64 cwriter;
static int failed;

static void wr64(u64 a, u64 v) { *(volatile u64 *)a = v; }
static void wr8(u64 a, unsigned char v) { *(volatile unsigned char *)a = v; }

static void fail(const char *what)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw("\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

static u32 iar(void)
{
    u64 v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v)); /* ICC_IAR1_EL1 */
    return (u32)v & 0xffffff;
}

static u32 hppir(void)
{
    u64 v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_2" : "=r"(v)); /* ICC_HPPIR1_EL1 */
    return (u32)v & 0xffffff;
}

static void eoi(u32 intid) { __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"((u64)intid)); }

/* This vCPU's redistributor: awake, LPIs from the shared property table and its own pending table. */
static void lpi_cpu_init(u64 id)
{
    u64 rd = find_redistributor(my_affinity());
    if (!rd)
        fail("no redistributor");
    gicv3_cpu_init(rd);
    if (!(rd64(rd + 0x8) & 1))
        fail("GICR_TYPER.PLPIS is 0");
    wr64(rd + 0x70, PROP_TABLE | (1UL << 10) | (7UL << 7) | (PROP_IDBITS - 1)); /* GICR_PROPBASER */
    wr64(rd + 0x78, (PEND_TABLES + id * 0x10000) | (1UL << 10) | (7UL << 7));   /* GICR_PENDBASER */
    __asm__ volatile("dsb sy" ::: "memory");
    wr32(rd + 0x0, 1); /* GICR_CTLR.EnableLPIs */
}

void secondary_main(u64 id)
{
    lpi_cpu_init(id);
    __atomic_store_n(&online[id], 1, __ATOMIC_RELEASE);
    for (;;) {
        u32 intid = iar();
        if (intid == 1023) {
            __asm__ volatile("wfi");
            continue;
        }
        eoi(intid);
        __atomic_store_n(&last_lpi[id], intid, __ATOMIC_RELAXED);
        __atomic_fetch_add(&taken[id], 1, __ATOMIC_RELEASE);
    }
}

/* Queues one command and waits until the ITS has read it (GITS_CREADR reaches GITS_CWRITER). */
static void its_cmd(u64 d0, u64 d1, u64 d2, u64 d3)
{
    u64 at = CMDQ + cwriter;
    wr64(at, d0);
    wr64(at + 8, d1);
    wr64(at + 16, d2);
    wr64(at + 24, d3);
    cwriter = (cwriter + 32) % CMDQ_SIZE;
    __asm__ volatile("dsb sy" ::: "memory");
    wr64(GITS_BASE + 0x88, cwriter); /* GITS_CWRITER */
    for (u64 spin = 0; (rd64(GITS_BASE + 0x90) & 0xfffe0) != cwriter; spin++) {
        if (rd64(GITS_BASE + 0x90) & 1)
            fail("the command queue stalled");
        if (spin > 100000000)
            fail("the command queue does not move");
    }
}

static void mapd(u32 dev, int bits, u64 itt, int valid) { its_cmd(0x08 | (u64)dev << 32, bits - 1, (u64)valid << 63 | itt, 0); }
static void mapc(u32 icid, u64 rd) { its_cmd(0x09, 0, 1UL << 63 | rd << 16 | icid, 0); }
static void mapti(u32 dev, u32 ev, u32 lpi, u32 icid) { its_cmd(0x0a | (u64)dev << 32, ev | (u64)lpi << 32, icid, 0); }
static void mapi(u32 dev, u32 ev, u32 icid) { its_cmd(0x0b | (u64)dev << 32, ev, icid, 0); }
static void movi(u32 dev, u32 ev, u32 icid) { its_cmd(0x01 | (u64)dev << 32, ev, icid, 0); }
static void ev_cmd(u64 cmd, u32 dev, u32 ev) { its_cmd(cmd | (u64)dev << 32, ev, 0, 0); }
static void int_(u32 dev, u32 ev) { ev_cmd(0x03, dev, ev); }
static void inv(u32 dev, u32 ev) { ev_cmd(0x0c, dev, ev); }
static void clear(u32 dev, u32 ev) { ev_cmd(0x04, dev, ev); }
static void discard(u32 dev, u32 ev) { ev_cmd(0x0f, dev, ev); }
static void invall(u32 icid) { its_cmd(0x0d, 0, icid, 0); }
static void sync(u64 rd) { its_cmd(0x05, 0, rd << 16, 0); }

static void set_prop(u32 lpi, int enabled)
{
    wr8(PROP_TABLE + lpi - LPI_BASE, (unsigned char)(LPI_PRIORITY | (enabled ? 1 : 0)));
    __asm__ volatile("dsb sy" ::: "memory");
}

/* vCPU 0 takes one interrupt, which must be lpi. */
static void take(u32 lpi, const char *what)
{
    u32 got = iar();
    if (got != lpi)
        fail(what);
    eoi(got);
}

static void nothing_pending(const char *what)
{
    if (hppir() != 1023)
        fail(what);
}

static void line(const char *text)
{
    puts_raw(text);
    puts_raw("\n");
}

/* GITS_BASERn: the device (type 1) and collection (type 4) tables, one 64 KiB page each, flat. */
static void setup_tables(void)
{
    int found = 0;
    for (int n = 0; n < 8; n++) {
        u64 baser = GITS_BASE + 0x100 + 8 * (u64)n;
        u64 type = rd64(baser) >> 56 & 7;
        u64 table = type == 1 ? DEVICE_TABLE : type == 4 ? COLLECTION_TABLE : 0;
        if (!table)
            continue;
        /* Valid, inner read-allocate write-back, inner shareable, 64 KiB pages, one page. */
        wr64(baser, 1UL << 63 | 7UL << 59 | (rd64(baser) & (0x1fUL << 48 | 7UL << 56)) | 1UL << 10 | 2UL << 8 | table);
        if (!(rd64(baser) >> 63))
            fail("GITS_BASERn did not take the table");
        found |= type == 1 ? 1 : 2;
    }
    if (found != 3)
        fail("no device or collection table in GITS_BASERn");
    wr64(GITS_BASE + 0x80, 1UL << 63 | 7UL << 59 | 1UL << 10 | CMDQ | (CMDQ_SIZE / 0x1000 - 1)); /* GITS_CBASER */
    wr64(GITS_BASE + 0x88, 0);
    wr32(GITS_BASE + 0x0, 1); /* GITS_CTLR.Enabled */
    if (!(rd32(GITS_BASE + 0x0) & 1))
        fail("the ITS did not enable");
}

static void wait_taken(u64 cpu, u32 count, u32 lpi, const char *what)
{
    for (u64 spin = 0; __atomic_load_n(&taken[cpu], __ATOMIC_ACQUIRE) < count; spin++)
        if (spin > 1000000000)
            fail(what);
    if (__atomic_load_n(&taken[cpu], __ATOMIC_ACQUIRE) != count || last_lpi[cpu] != lpi)
        fail(what);
}

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301);
    u64 gicd_typer = rd32(GICD_BASE + 0x4);
    if (!(gicd_typer >> 17 & 1) || (gicd_typer >> 19 & 0x1f) + 1 < PROP_IDBITS)
        fail("GICD_TYPER: no LPIs");
    wr32(GICD_BASE, (1u << 4) | (1u << 1) | 1u); /* ARE, EnableGrp1NS */

    /* Properties before any redistributor enables LPIs; one pending bit set in vCPU 0's table. */
    for (u32 lpi = LPI_BASE; lpi < 1u << PROP_IDBITS; lpi++)
        wr8(PROP_TABLE + lpi - LPI_BASE, LPI_PRIORITY | (lpi != PENDING_LPI));
    wr8(PEND_TABLES + PENDING_LPI / 8, (unsigned char)(1u << (PENDING_LPI % 8)));
    __asm__ volatile("dsb sy" ::: "memory");
    lpi_cpu_init(0);

    u64 n = 1;
    while (n < MAX_CPUS) {
        long r = psci(PSCI_CPU_ON, affinity_of(n), (u64)secondary_entry, n);
        if (r == PSCI_INVALID_PARAMETERS)
            break;
        if (r != 0)
            fail("CPU_ON");
        while (!__atomic_load_n(&online[n], __ATOMIC_ACQUIRE))
            ;
        n++;
    }
    puts_raw("ITS: ");
    put_dec(n);
    puts_raw(" vCPUs with LPIs enabled\n");

    u64 its_typer = rd64(GITS_BASE + 0x8);
    int pta = its_typer >> 19 & 1;
    u64 ite_size = (its_typer >> 4 & 0xf) + 1;
    if (!(its_typer & 1) || (its_typer >> 8 & 0x1f) + 1 < DEV2_BITS || ((1UL << DEV2_BITS) * ite_size) > 0x100000)
        fail("GITS_TYPER");
    for (u64 i = 0; i < n; i++) {
        u64 rd = find_redistributor(affinity_of(i));
        rdbase[i] = pta ? rd >> 16 : rd64(rd + 0x8) >> 8 & 0xffff;
    }
    setup_tables();
    line("ITS enabled: device and collection tables, command queue");

    mapd(DEV1, DEV1_BITS, ITT1, 1);
    for (u64 i = 0; i < n; i++) {
        mapc((u32)i, rdbase[i]);
        mapti(DEV1, (u32)i, LPI_BASE + (u32)i, (u32)i);
    }
    for (u64 i = 0; i < n; i++)
        sync(rdbase[i]);
    nothing_pending("an LPI pending before INT");
    for (u64 i = 1; i < n; i++) {
        int_(DEV1, (u32)i);
        wait_taken(i, 1, LPI_BASE + (u32)i, "INT: a vCPU did not take its LPI");
    }
    int_(DEV1, 0);
    take(LPI_BASE, "INT: vCPU 0 did not take LPI 8192");
    puts_raw("MAPD, MAPC, MAPTI, SYNC, INT: each of ");
    put_dec(n);
    puts_raw(" vCPUs took its own LPI\n");

    movi(DEV1, (u32)(n - 1), 0);
    int_(DEV1, (u32)(n - 1));
    take(LPI_BASE + (u32)(n - 1), "MOVI: the LPI did not move to vCPU 0");
    line("MOVI: the last vCPU's event now interrupts vCPU 0");

    set_prop(LPI_BASE, 0);
    inv(DEV1, 0);
    int_(DEV1, 0);
    nothing_pending("INV: a disabled LPI was signalled");
    set_prop(LPI_BASE, 1);
    inv(DEV1, 0);
    take(LPI_BASE, "INV: the pending LPI was not taken once enabled");
    line("INV: a disabled LPI stays pending and is taken once enabled");

    set_prop(LPI_BASE, 0);
    inv(DEV1, 0);
    int_(DEV1, 0);
    clear(DEV1, 0);
    set_prop(LPI_BASE, 1);
    inv(DEV1, 0);
    nothing_pending("CLEAR: the LPI is still pending");
    line("CLEAR: the pending state is gone");

    set_prop(LPI_BASE, 0);
    invall(0);
    int_(DEV1, 0);
    nothing_pending("INVALL: a disabled LPI was signalled");
    set_prop(LPI_BASE, 1);
    invall(0);
    take(LPI_BASE, "INVALL: the LPI was not taken once enabled");
    line("INVALL: the collection's properties were read again");

    /* LPI 9000 is disabled until mapped: KVM reads its pending bit when MAPTI maps it, QEMU's own ITS
     * keeps the pending state in the table all along; either way it is pending once enabled. */
    mapti(DEV1, PENDING_EVENT, PENDING_LPI, 0);
    set_prop(PENDING_LPI, 1);
    inv(DEV1, PENDING_EVENT);
    take(PENDING_LPI, "pending table: LPI 9000 not taken");
    nothing_pending("pending table: LPI 9000 still pending");
    line("pending table: a bit set before EnableLPIs made LPI 9000 pending");

    mapd(DEV2, DEV2_BITS, ITT2, 1);
    mapi(DEV2, MAPI_LPI, 0);
    int_(DEV2, MAPI_LPI);
    take(MAPI_LPI, "MAPI: LPI 8500 not taken");
    line("MAPI: event 8500 is LPI 8500");

    discard(DEV1, 0);
    int_(DEV1, 0);
    discard(DEV1, 0);
    nothing_pending("DISCARD: the event still interrupts");
    mapd(DEV2, DEV2_BITS, ITT2, 0);
    int_(DEV2, MAPI_LPI);
    nothing_pending("MAPD V=0: the device still interrupts");
    for (u64 i = 0; i < n; i++)
        sync(rdbase[i]);
    line("DISCARD, MAPD V=0: the translations are gone; failing commands were skipped");

    for (u64 i = 1; i < n; i++)
        if (taken[i] != 1)
            failed = 1;
    if (failed)
        fail("a vCPU took an LPI more than once");
    line("PASS");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

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

#include "its.h"

static u64 rdbase[MAX_CPUS]; /* what MAPC names: a processor number or a physical address */
static int failed;

static void fail(const char *what)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw("\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

void secondary_main(u64 id) { lpi_secondary_main(id); }

static void set_prop(u32 lpi, int enabled)
{
    wr8(PROP_TABLE + lpi - LPI_BASE, (unsigned char)(LPI_PRIORITY | (enabled ? 1 : 0)));
    __asm__ volatile("dsb sy" ::: "memory");
}

static void line(const char *text)
{
    puts_raw(text);
    puts_raw("\n");
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

    u64 n = start_lpi_cpus();
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

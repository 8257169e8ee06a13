/*
 * Shared helpers of the GICv3 ITS guests (its, msix): the ICC_* interrupt acknowledge, the redistributor's
 * LPI setup, the ITS's tables and command queue, and the commands. The including file defines CMDQ,
 * CMDQ_SIZE, DEVICE_TABLE, COLLECTION_TABLE, PROP_TABLE, PROP_IDBITS and PEND_TABLES (guest-physical
 * addresses outside its image) and a fail(const char *) that reports and powers off.
 */
#ifndef SOFTKVM_ITS_H
#define SOFTKVM_ITS_H

#include "guest.h"

#define GITS_BASE 0x08080000UL
#define GITS_TRANSLATER (GITS_BASE + 0x10040UL)

#define PSCI_INVALID_PARAMETERS (-2)

static void fail(const char *what);

static u64 cwriter;
static volatile u32 online[MAX_CPUS];
static volatile u32 taken[MAX_CPUS];   /* LPIs each secondary vCPU took */
static volatile u32 last_lpi[MAX_CPUS];

static inline void wr64(u64 a, u64 v) { *(volatile u64 *)a = v; }
static inline void wr8(u64 a, unsigned char v) { *(volatile unsigned char *)a = v; }

static inline u32 iar(void)
{
    u64 v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v)); /* ICC_IAR1_EL1 */
    return (u32)v & 0xffffff;
}

static inline u32 hppir(void)
{
    u64 v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_2" : "=r"(v)); /* ICC_HPPIR1_EL1 */
    return (u32)v & 0xffffff;
}

static inline void eoi(u32 intid) { __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"((u64)intid)); }

/* This vCPU's redistributor: awake, LPIs from the shared property table and its own pending table. */
static inline void lpi_cpu_init(u64 id)
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

/* Queues one command and waits until the ITS has read it (GITS_CREADR reaches GITS_CWRITER). */
static inline void its_cmd(u64 d0, u64 d1, u64 d2, u64 d3)
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

static inline void mapd(u32 dev, int bits, u64 itt, int valid) { its_cmd(0x08 | (u64)dev << 32, bits - 1, (u64)valid << 63 | itt, 0); }
static inline void mapc(u32 icid, u64 rd) { its_cmd(0x09, 0, 1UL << 63 | rd << 16 | icid, 0); }
static inline void mapti(u32 dev, u32 ev, u32 lpi, u32 icid) { its_cmd(0x0a | (u64)dev << 32, ev | (u64)lpi << 32, icid, 0); }
static inline void mapi(u32 dev, u32 ev, u32 icid) { its_cmd(0x0b | (u64)dev << 32, ev, icid, 0); }
static inline void movi(u32 dev, u32 ev, u32 icid) { its_cmd(0x01 | (u64)dev << 32, ev, icid, 0); }
static inline void ev_cmd(u64 cmd, u32 dev, u32 ev) { its_cmd(cmd | (u64)dev << 32, ev, 0, 0); }
static inline void int_(u32 dev, u32 ev) { ev_cmd(0x03, dev, ev); }
static inline void inv(u32 dev, u32 ev) { ev_cmd(0x0c, dev, ev); }
static inline void clear(u32 dev, u32 ev) { ev_cmd(0x04, dev, ev); }
static inline void discard(u32 dev, u32 ev) { ev_cmd(0x0f, dev, ev); }
static inline void invall(u32 icid) { its_cmd(0x0d, 0, icid, 0); }
static inline void sync(u64 rd) { its_cmd(0x05, 0, rd << 16, 0); }

/* GITS_BASERn: the device (type 1) and collection (type 4) tables, one 64 KiB page each, flat; the
 * command queue; the ITS enabled. */
static inline void setup_tables(void)
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

/* What MAPC and SYNC name vCPU id's redistributor by: its physical address (GITS_TYPER.PTA) or its processor number. */
static inline u64 its_rdbase(u64 id)
{
    u64 rd = find_redistributor(affinity_of(id));
    return rd64(GITS_BASE + 0x8) >> 19 & 1 ? rd >> 16 : rd64(rd + 0x8) >> 8 & 0xffff;
}

/* A secondary vCPU: LPIs on, then it takes every interrupt, counting it and noting the last INTID. */
static inline void lpi_secondary_main(u64 id)
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

/* vCPU 0 starts vCPUs 1, 2, ... with PSCI CPU_ON until there are no more, each waited for until its LPIs
 * are on; returns how many vCPUs there are. */
static inline u64 start_lpi_cpus(void)
{
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
    return n;
}

/* vCPU 0 takes one interrupt, which must be lpi. */
static inline void take(u32 lpi, const char *what)
{
    u32 got = iar();
    if (got != lpi)
        fail(what);
    eoi(got);
}

static inline void nothing_pending(const char *what)
{
    if (hppir() != 1023)
        fail(what);
}

/* Waits until secondary vCPU cpu has taken count interrupts, the last of them lpi. */
static inline void wait_taken(u64 cpu, u32 count, u32 lpi, const char *what)
{
    for (u64 spin = 0; __atomic_load_n(&taken[cpu], __ATOMIC_ACQUIRE) < count; spin++)
        if (spin > 1000000000)
            fail(what);
    if (__atomic_load_n(&taken[cpu], __ATOMIC_ACQUIRE) != count || last_lpi[cpu] != lpi)
        fail(what);
}

#endif

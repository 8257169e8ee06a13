/*
 * FEAT_MTE2/FEAT_MTE3 at EL1 (run with --cpu max; QEMU: -M virt,mte=on -cpu max). Stage-1 tables map
 * RAM as Normal memory with 2 MiB blocks, three of them Tagged (MAIR 0xF0), one of those also EL0-accessible;
 * the checks print one line each: the ID fields and GMID_EL1; IRG's tags from RGSR_EL1's seed with GCR_EL1
 * and register exclusions; ADDG/SUBG/GMI/SUBP/SUBPS; STG/LDG round trips (ignored in untagged memory);
 * ST2G/STZG/STZ2G/STGP/STGM/LDGM/STZGM/DC GVA/DC GZVA with the data they zero; synchronous tag check
 * faults (ESR_EL1, FAR_EL1) on loads, stores, pairs across granules, LSE atomics, exclusives, SIMD and
 * DC ZVA; what is unchecked (SP with an immediate offset, PSTATE.TCO, TCR_EL1.TCMA0, untagged memory,
 * SCTLR_EL1.ATA clear); asynchronous faults in TFSR_EL1; the asymmetric mode (reads fault, writes
 * accumulate); LDTR under SCTLR_EL1.TCF0 with TFSRE0_EL1. An exception taken to EL1 sets PSTATE.TCO.
 */
#include "guest.h"

#define MSR(reg, v) __asm__ volatile("msr " #reg ", %0\n isb" ::"r"((u64)(v)) : "memory")
#define MRS(reg) ({ u64 v_; __asm__ volatile("mrs %0, " #reg : "=r"(v_)); v_; })

#define GCR_EL1 S3_0_C1_C0_6
#define RGSR_EL1 S3_0_C1_C0_5
#define TFSR_EL1 S3_0_C5_C6_0
#define TFSRE0_EL1 S3_0_C5_C6_1
#define GMID_EL1 S3_1_C0_C0_4

#define SCTLR_ATA (1UL << 43)
#define SCTLR_ATA0 (1UL << 42)
#define SCTLR_TCF(x) ((u64)(x) << 40)
#define SCTLR_TCF0(x) ((u64)(x) << 38)
#define TCR_BASE (25UL | (1UL << 8) | (1UL << 10) | (3UL << 12) | (1UL << 23) | (2UL << 32) | (1UL << 37))
#define TCR_TCMA0 (1UL << 57)

#define TAGGED 0x40400000UL      /* 2 MiB, Tagged, EL1 only */
#define TAGGED_EL0 0x40600000UL  /* 2 MiB, Tagged, EL0 read/write */
#define UNTAGGED 0x40800000UL    /* 2 MiB, Normal untagged */

static u64 l1[512] __attribute__((aligned(4096)));
static u64 l2[512] __attribute__((aligned(4096)));
static u64 l3[512] __attribute__((aligned(4096))); /* TAGGED in 4 KiB pages */
static u64 sctlr_base;
static volatile u64 faults, last_esr, last_far;

static void put_hex(u64 v)
{
    puts_raw("0x");
    for (int s = 60; s >= 0; s -= 4) {
        int d = (int)(v >> s & 0xf);
        putc_raw((char)(d < 10 ? '0' + d : 'a' + d - 10));
    }
}

static void line(const char *label, u64 v)
{
    puts_raw(label);
    puts_raw(" ");
    put_hex(v);
    puts_raw("\n");
}

/* The synchronous exceptions of EL1 (tag check faults, other data aborts) are recorded and skipped. */
u64 el1_sync(u64 esr, u64 far, u64 elr, u64 spsr)
{
    u64 ec = esr >> 26;
    if (ec != 0x25) {
        line("unexpected exception, esr", esr);
        line("elr", elr);
        psci(PSCI_SYSTEM_OFF, 0, 0, 0);
    }
    faults++;
    last_esr = esr;
    last_far = far;
    if (!(MRS(S3_3_C4_C2_7) & (1UL << 25)))  /* TCO */
        puts_raw("TCO clear in the handler\n");
    (void)spsr;
    return elr + 4;
}

__asm__(".section .text\n"
        ".balign 2048\n"
        "vectors:\n"
        ".rept 4\n"
        "b unexpected_vector\n"
        ".balign 0x80\n"
        ".endr\n"
        "b sync_entry\n"
        ".balign 0x80\n"
        ".rept 11\n"
        "b unexpected_vector\n"
        ".balign 0x80\n"
        ".endr\n"
        "sync_entry:\n"
        "sub sp, sp, #176\n"
        "stp x0, x1, [sp, #0]\n"
        "stp x2, x3, [sp, #16]\n"
        "stp x4, x5, [sp, #32]\n"
        "stp x6, x7, [sp, #48]\n"
        "stp x8, x9, [sp, #64]\n"
        "stp x10, x11, [sp, #80]\n"
        "stp x12, x13, [sp, #96]\n"
        "stp x14, x15, [sp, #112]\n"
        "stp x16, x17, [sp, #128]\n"
        "stp x18, x30, [sp, #144]\n"
        "mrs x0, esr_el1\n"
        "mrs x1, far_el1\n"
        "mrs x2, elr_el1\n"
        "mrs x3, spsr_el1\n"
        "bl el1_sync\n"
        "msr elr_el1, x0\n"
        "ldp x0, x1, [sp, #0]\n"
        "ldp x2, x3, [sp, #16]\n"
        "ldp x4, x5, [sp, #32]\n"
        "ldp x6, x7, [sp, #48]\n"
        "ldp x8, x9, [sp, #64]\n"
        "ldp x10, x11, [sp, #80]\n"
        "ldp x12, x13, [sp, #96]\n"
        "ldp x14, x15, [sp, #112]\n"
        "ldp x16, x17, [sp, #128]\n"
        "ldp x18, x30, [sp, #144]\n"
        "add sp, sp, #176\n"
        "eret\n"
        "unexpected_vector:\n"
        "mrs x0, esr_el1\n"
        "mrs x1, far_el1\n"
        "mrs x2, elr_el1\n"
        "mov x3, #0\n"
        "bl el1_sync\n"
        "b .\n");

extern char vectors[];

static u64 tagged(u64 p, u64 tag) { return (p & ~(0xfUL << 56)) | (tag << 56); }
static u64 tag_of(u64 p) { return p >> 56 & 0xf; }

static u64 irg(u64 p, u64 excl) { u64 r; __asm__ volatile("irg %0, %1, %2" : "=r"(r) : "r"(p), "r"(excl)); return r; }
static u64 ldg(u64 p) { u64 r = p; __asm__ volatile("ldg %0, [%1]" : "+r"(r) : "r"(p) : "memory"); return r; }
static void stg(u64 p) { __asm__ volatile("stg %0, [%0]" ::"r"(p) : "memory"); }
static u64 gtag(u64 p) { return tag_of(ldg(p & ~(0xfUL << 56))); }

static u64 ld(u64 p) { u64 v = 0; __asm__ volatile("ldr %0, [%1]" : "+r"(v) : "r"(p) : "memory"); return v; }
static void st(u64 p, u64 v) { __asm__ volatile("str %0, [%1]" ::"r"(v), "r"(p) : "memory"); }

static void set_sctlr(u64 extra) { MSR(sctlr_el1, sctlr_base | extra); }

/* Prints the fault taken (or "none") since the counter was read. */
static void report(const char *what, u64 before)
{
    puts_raw(what);
    if (faults == before) {
        puts_raw(": none\n");
        return;
    }
    puts_raw(": esr ");
    put_hex(last_esr);
    puts_raw(" far ");
    put_hex(last_far);
    puts_raw("\n");
}

static void map(void)
{
    l1[0] = 0x00000000UL | 1 | (1UL << 10) | (1UL << 2) | (3UL << 53); /* devices: attr 1, XN */
    l1[1] = (u64)l2 | 3;
    for (u64 i = 0; i < 512; i++) {
        u64 pa = 0x40000000UL + (i << 21);
        u64 attr = 0; /* Normal */
        u64 ap = 0;
        if (pa == TAGGED)
            attr = 2; /* Tagged */
        if (pa == TAGGED_EL0) {
            attr = 2;
            ap = 1UL << 6; /* EL0 read/write */
        }
        l2[i] = pa | 1 | (1UL << 10) | (3UL << 8) | (attr << 2) | ap | (pa >= 0x40200000UL ? 1UL << 53 : 0);
    }
    for (u64 i = 0; i < 512; i++)
        l3[i] = (TAGGED + (i << 12)) | 3 | (1UL << 10) | (3UL << 8) | (2UL << 2) | (1UL << 53);
    l2[(TAGGED - 0x40000000UL) >> 21] = (u64)l3 | 3;
    MSR(mair_el1, 0xf000ffUL); /* attr0 Normal WB, attr1 Device-nGnRnE, attr2 Tagged Normal */
    MSR(tcr_el1, TCR_BASE);
    MSR(ttbr0_el1, (u64)l1);
    __asm__ volatile("dsb ish\n isb");
    sctlr_base = MRS(sctlr_el1) | 1 | (1 << 2) | (1 << 12);
    set_sctlr(SCTLR_ATA);
}

static void ids(void)
{
    line("id_aa64pfr1 mte", MRS(id_aa64pfr1_el1) >> 8 & 0xf);
    line("gmid_el1", MRS(GMID_EL1));
    line("dczid_el0", MRS(dczid_el0));
}

static void random_tags(void)
{
    MSR(GCR_EL1, 0x1UL); /* exclude tag 0 */
    MSR(RGSR_EL1, (0xace1UL << 8) | 3);
    u64 tags = 0;
    for (int i = 0; i < 16; i++)
        tags = tags << 4 | tag_of(irg(TAGGED, 0));
    line("irg 16 tags", tags);
    line("rgsr after", MRS(RGSR_EL1));
    tags = 0;
    for (int i = 0; i < 16; i++)
        tags = tags << 4 | tag_of(irg(TAGGED, 0xaaaa)); /* odd tags excluded too */
    line("irg even tags", tags);
    line("irg all excluded", irg(tagged(TAGGED, 7), 0xfffe));
    MSR(RGSR_EL1, 0x5UL); /* seed 0: offset 0, the first non-excluded tag from 5 */
    line("irg seed 0", irg(TAGGED, 0x20));
    MSR(GCR_EL1, 0x10001UL); /* RRND = 1 */
    MSR(RGSR_EL1, (0x1234UL << 8) | 9);
    line("irg rrnd", tag_of(irg(TAGGED, 0)) != 0);
    MSR(GCR_EL1, 0x1UL);
    set_sctlr(0);
    line("irg without ata", irg(tagged(TAGGED, 3), 0));
    set_sctlr(SCTLR_ATA);
}

static void arithmetic(void)
{
    u64 r;
    MSR(GCR_EL1, 0x8001UL); /* exclude 0 and 15 */
    __asm__ volatile("addg %0, %1, #48, #3" : "=r"(r) : "r"(tagged(TAGGED, 13)));
    line("addg", r);
    __asm__ volatile("subg %0, %1, #1008, #0" : "=r"(r) : "r"(tagged(TAGGED + 0x1000, 15)));
    line("subg", r);
    __asm__ volatile("gmi %0, %1, %2" : "=r"(r) : "r"(tagged(TAGGED, 9)), "r"(0x11UL));
    line("gmi", r);
    __asm__ volatile("subp %0, %1, %2" : "=r"(r) : "r"(tagged(0x0080000000001000UL, 2)), "r"(tagged(0x2000UL, 5)));
    line("subp", r);
    u64 nzcv;
    __asm__ volatile("subps %0, %2, %3\n mrs %1, nzcv" : "=r"(r), "=r"(nzcv) : "r"(tagged(0x1000UL, 2)), "r"(tagged(0x1000UL, 5)));
    line("subps", r);
    line("subps nzcv", nzcv);
    set_sctlr(0);
    __asm__ volatile("addg %0, %1, #16, #1" : "=r"(r) : "r"(tagged(TAGGED, 4)));
    line("addg without ata", r);
    set_sctlr(SCTLR_ATA);
}

static void fill(u64 p, u64 bytes, u64 v)
{
    for (u64 i = 0; i < bytes; i += 8)
        *(volatile u64 *)(p + i) = v;
}

static u64 sum(u64 p, u64 bytes)
{
    u64 s = 0;
    for (u64 i = 0; i < bytes; i += 8)
        s += *(volatile u64 *)(p + i);
    return s;
}

static void tag_stores(void)
{
    u64 p = TAGGED + 0x100;
    stg(tagged(p, 5));
    line("stg/ldg", gtag(p));
    line("ldg keeps the address", ldg(tagged(p + 8, 1)));
    stg(tagged(UNTAGGED, 5));
    line("untagged ldg", gtag(UNTAGGED));

    fill(TAGGED + 0x200, 0x40, 0xaaaaaaaaaaaaaaaaUL);
    u64 q = tagged(TAGGED + 0x200, 6);
    __asm__ volatile("st2g %0, [%0]" ::"r"(q) : "memory");
    line("st2g tags", gtag(q) << 8 | gtag(q + 16) << 4 | gtag(q + 32));
    line("st2g data", sum(TAGGED + 0x200, 0x40));
    q = tagged(TAGGED + 0x200, 7);
    __asm__ volatile("stzg %0, [%0, #16]" ::"r"(q) : "memory");
    line("stzg tags", gtag(q) << 8 | gtag(q + 16) << 4 | gtag(q + 32));
    line("stzg data", sum(TAGGED + 0x200, 0x40));
    u64 w = tagged(TAGGED + 0x200, 8);
    __asm__ volatile("stz2g %0, [%0], #32" : "+r"(w) : : "memory");
    line("stz2g writeback", w);
    line("stz2g tags", gtag(q) << 8 | gtag(q + 16) << 4 | gtag(q + 32));
    line("stz2g data", sum(TAGGED + 0x200, 0x40));
    w = tagged(TAGGED + 0x300, 9);
    __asm__ volatile("stg %0, [%0, #-16]!" : "+r"(w) : : "memory");
    line("stg pre-index", w);
    line("stg pre-index tag", gtag(TAGGED + 0x2f0));

    u64 a = tagged(TAGGED + 0x400, 10);
    __asm__ volatile("stgp %1, %2, [%0]" ::"r"(a), "r"(0x1111UL), "r"(0x2222UL) : "memory");
    line("stgp tag", gtag(a));
    line("stgp data", sum(TAGGED + 0x400, 16));

    u64 blk = TAGGED + 0x1000;
    __asm__ volatile("stgm %0, [%1]" ::"r"(0xfedcba9876543210UL), "r"(blk + 0x40) : "memory");
    u64 g;
    __asm__ volatile("ldgm %0, [%1]" : "=r"(g) : "r"(blk + 0x80) : "memory");
    line("stgm/ldgm", g);
    line("ldg of granule 3", gtag(blk + 0x30));
    fill(blk, 0x100, 0x5555555555555555UL);
    __asm__ volatile("stzgm %0, [%1]" ::"r"(0xcUL), "r"(blk + 0x48) : "memory");
    __asm__ volatile("ldgm %0, [%1]" : "=r"(g) : "r"(blk) : "memory");
    line("stzgm tags", g);
    line("stzgm data", sum(blk, 0x100));
    __asm__ volatile("dc gva, %0" ::"r"(tagged(blk + 0x80, 2)) : "memory");
    __asm__ volatile("dc gzva, %0" ::"r"(tagged(blk + 0xc0, 3)) : "memory");
    __asm__ volatile("ldgm %0, [%1]" : "=r"(g) : "r"(blk) : "memory");
    line("dc gva/gzva tags", g);
    line("dc gzva data", sum(blk, 0x100));

    set_sctlr(0);
    stg(tagged(p, 11));
    line("stg without ata", (set_sctlr(SCTLR_ATA), gtag(p)));
    set_sctlr(0);
    line("ldg without ata", ldg(tagged(p, 4)));
    set_sctlr(SCTLR_ATA);
}

static void sync_faults(void)
{
    u64 p = TAGGED + 0x800, f;
    stg(tagged(p, 3));
    stg(tagged(p + 16, 4));
    st(tagged(p, 3), 0x77);
    set_sctlr(SCTLR_ATA | SCTLR_TCF(1));

    f = faults; line("load, matching tag", ld(tagged(p, 3))); report("load, matching tag", f);
    f = faults; ld(tagged(p, 5)); report("load, tag 5", f);
    f = faults; st(tagged(p + 8, 9), 1); report("store, tag 9", f);
    line("store did not happen", ld(tagged(p + 8, 3)));
    f = faults;
    u64 a, b;
    __asm__ volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(tagged(p + 8, 3)) : "memory");
    report("ldp across granules", f);
    f = faults;
    __asm__ volatile("ldadd %1, %0, [%2]" : "=r"(a) : "r"(1UL), "r"(tagged(p, 6)) : "memory");
    report("ldadd", f);
    f = faults;
    __asm__ volatile("ldxr %0, [%1]" : "=r"(a) : "r"(tagged(p + 16, 3)) : "memory");
    report("ldxr", f);
    __asm__ volatile("clrex");
    f = faults;
    __asm__ volatile("ld1 {v0.2d}, [%0]" ::"r"(tagged(p, 1)) : "v0", "memory");
    report("ld1", f);
    f = faults;
    __asm__ volatile("dc zva, %0" ::"r"(tagged(p, 1)) : "memory");
    report("dc zva", f);
    f = faults; ld(tagged(UNTAGGED, 5)); report("untagged memory", f);

    /* Unchecked: SP with an immediate offset, PSTATE.TCO, TCMA, ATA clear. */
    f = faults;
    __asm__ volatile("mov x9, sp\n mov sp, %1\n ldr %0, [sp, #16]\n mov sp, x9" : "=r"(a) : "r"(tagged(p, 12)) : "x9", "memory");
    report("sp base", f);
    f = faults;
    __asm__ volatile("mov x9, sp\n mov sp, %1\n ldr %0, [sp, %2]\n mov sp, x9" : "=r"(a) : "r"(tagged(p, 12)), "r"(16UL) : "x9", "memory");
    report("sp base, register offset", f);
    f = faults;
    __asm__ volatile("msr tco, #1\n ldr %0, [%1]\n msr tco, #0" : "=r"(a) : "r"(tagged(p, 12)) : "memory");
    report("tco", f);
    line("tco after", MRS(S3_3_C4_C2_7));
    MSR(tcr_el1, TCR_BASE | TCR_TCMA0);
    f = faults; ld(tagged(p, 0)); report("tcma0, tag 0", f);
    f = faults; ld(tagged(p, 1)); report("tcma0, tag 1", f);
    MSR(tcr_el1, TCR_BASE);
    set_sctlr(SCTLR_TCF(1));
    f = faults; ld(tagged(p, 12)); report("ata clear", f);
    set_sctlr(0);
}

static void async_faults(void)
{
    u64 p = TAGGED + 0x900, f;
    stg(tagged(p, 3));
    MSR(TFSR_EL1, 0);
    set_sctlr(SCTLR_ATA | SCTLR_TCF(2));
    f = faults; ld(tagged(p, 5)); report("async load", f);
    line("tfsr_el1", MRS(TFSR_EL1));
    MSR(TFSR_EL1, 0);
    f = faults; st(tagged(p, 5), 1); report("async store", f);
    line("tfsr_el1", MRS(TFSR_EL1));
    line("async store happened", ld(tagged(p, 3)));
    MSR(TFSR_EL1, 0);

    set_sctlr(SCTLR_ATA | SCTLR_TCF(3));
    f = faults; ld(tagged(p, 6)); report("asymmetric load", f);
    line("tfsr_el1", MRS(TFSR_EL1));
    f = faults; st(tagged(p, 6), 2); report("asymmetric store", f);
    line("tfsr_el1", MRS(TFSR_EL1));
    MSR(TFSR_EL1, 0);
    set_sctlr(0);
}

static void unprivileged(void)
{
    u64 p = TAGGED_EL0 + 0x40, f, v = 0;
    stg(tagged(p, 3));
    MSR(TFSRE0_EL1, 0);
    set_sctlr(SCTLR_ATA | SCTLR_ATA0 | SCTLR_TCF0(1));
    f = faults; ld(tagged(p, 5)); report("ldr with only tcf0", f);
    f = faults;
    __asm__ volatile("ldtr %0, [%1]" : "+r"(v) : "r"(tagged(p, 5)) : "memory");
    report("ldtr under tcf0", f);
    set_sctlr(SCTLR_ATA | SCTLR_ATA0 | SCTLR_TCF0(2));
    f = faults;
    __asm__ volatile("sttr %0, [%1]" ::"r"(v), "r"(tagged(p, 5)) : "memory");
    report("sttr under async tcf0", f);
    line("tfsre0_el1", MRS(TFSRE0_EL1));
    line("tfsr_el1", MRS(TFSR_EL1));
    MSR(TFSRE0_EL1, 0);
    set_sctlr(0);
}

void primary_main(void)
{
    puts_raw("mte: start\n");
    MSR(vbar_el1, (u64)vectors);
    MSR(cpacr_el1, 3UL << 20); /* FP/SIMD for LD1 */
    map();
    ids();
    random_tags();
    arithmetic();
    tag_stores();
    sync_faults();
    async_faults();
    unprivileged();
    line("faults", faults);
    puts_raw("mte: done\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

void secondary_main(u64 index)
{
    (void)index;
}

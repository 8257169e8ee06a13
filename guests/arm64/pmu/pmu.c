/*
 * PMUv3 test: exact counts for known instruction sequences, as SoftKvm defines them (one CPU cycle per
 * retired instruction; a PMU register write takes effect once it has retired, so the MSR that starts
 * counting is not counted and the MSR that stops it is; an MRS reads the count before it; SVC, ERET and
 * an instruction that faults are not counted; BR_RETIRED counts B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR, BLR and
 * RET taken or not, MEM_ACCESS one per register loaded or stored, 2 for a pair). vCPU 0 checks, one line each:
 * the ID registers (PMUv3, PMCR_EL0.N 6, PMCEID0/1), INST_RETIRED, CPU_CYCLES and the cycle counter over a loop;
 * BR_RETIRED and MEM_ACCESS over a loop of loads, stores, pairs, an exclusive pair of accesses, a prefetch,
 * LD1 of four registers, MMIO reads of the VMM's UART and of the in-kernel GIC, and branches of every kind;
 * a MEM_ACCESS overflow taken right after the access that overflowed;
 * EL0/EL1 filtering over an excursion to EL0 (instructions and branches); SW_INCR; a 32-bit overflow with PMOVSSET and the overflow
 * interrupt (PPI 23) pending at the GIC; a CHAIN pair; 64-bit counters with PMCR_EL0.LP; PMUSERENR_EL0
 * (an EL0 read of PMCCNTR_EL0 is UNDEFINED without CR, allowed with it). Every other vCPU (started with
 * PSCI CPU_ON) counts the same loop with its own PMU. Prints PASS or FAIL and powers off.
 */
#include "guest.h"

#define PSCI_INVALID_PARAMETERS (-2)
#define LOOP 1000 /* the loop below retires 2 * LOOP instructions */

static volatile u32 online[MAX_CPUS];
static volatile u64 counted[MAX_CPUS];

#define MSR(reg, v) __asm__ volatile("msr " #reg ", %0" ::"r"((u64)(v)))
#define MRS(reg) ({ u64 v_; __asm__ volatile("mrs %0, " #reg : "=r"(v_)); v_; })

/* Lower-EL synchronous exceptions (SVC, UNDEFINED at EL0) continue at x20 on the EL1 stack. */
__asm__(".section .text\n"
        ".balign 2048\n"
        "vectors:\n"
        ".rept 32\n"
        "b .\n"
        ".endr\n"
        ".org vectors + 0x400\n"
        "br x20\n"
        ".org vectors + 0x800\n");

static void put_hex(u64 v)
{
    puts_raw("0x");
    int started = 0;
    for (int s = 60; s >= 0; s -= 4) {
        int d = (int)(v >> s & 0xf);
        if (d || started || s == 0) {
            putc_raw((char)(d < 10 ? '0' + d : 'a' + d - 10));
            started = 1;
        }
    }
}

static void fail(const char *what, u64 got)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw(" (got ");
    put_dec(got);
    puts_raw(")\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

static void expect(const char *what, u64 got, u64 want)
{
    if (got != want)
        fail(what, got);
}

/* Counter 0 INST_RETIRED, counter 1 CPU_CYCLES, the cycle counter: enabled, LOOP iterations, read. */
static void count_loop(u64 out[3])
{
    MSR(pmcr_el0, 1 | 2 | 4); /* E, reset P and C */
    MSR(pmevtyper0_el0, 0x08);
    MSR(pmevtyper1_el0, 0x11);
    MSR(pmccfiltr_el0, 0);
    u64 n = LOOP, c0, c1, cc;
    __asm__ volatile("msr pmcntenset_el0, %[en]\n"
                     "1: subs %[n], %[n], #1\n"
                     "b.ne 1b\n"
                     "mrs %[c0], pmevcntr0_el0\n"
                     "mrs %[c1], pmevcntr1_el0\n"
                     "mrs %[cc], pmccntr_el0\n"
                     "msr pmcntenclr_el0, %[en]\n"
                     : [n] "+r"(n), [c0] "=&r"(c0), [c1] "=&r"(c1), [cc] "=&r"(cc)
                     : [en] "r"((1UL << 31) | 3)
                     : "cc");
    out[0] = c0;
    out[1] = c1;
    out[2] = cc;
}

void secondary_main(u64 id)
{
    u64 c[3];
    count_loop(c);
    counted[id] = c[0] == 2 * LOOP && c[1] == 2 * LOOP + 1 && c[2] == 2 * LOOP + 2 ? 1 : 0;
    __atomic_store_n(&online[id], 1, __ATOMIC_RELEASE);
    for (;;)
        __asm__ volatile("wfi");
}

/* Runs `user` at EL0 (interrupts masked) until it takes an exception back; returns ESR_EL1. The counters
 * in `enable` count from the ERET: EL1 sees the BR back and the MSR that stops them, EL0 the user code
 * up to the SVC. */
static u64 at_el0(void (*user)(void), u64 enable, u64 *x0)
{
    extern char vectors[];
    MSR(vbar_el1, vectors);
    MSR(elr_el1, user);
    MSR(spsr_el1, 0x3c0); /* EL0t, DAIF masked */
    u64 result;
    __asm__ volatile("isb\n"
                     "adr x20, 1f\n"
                     "msr pmcntenset_el0, %[en]\n"
                     "eret\n"
                     "1: msr pmcntenclr_el0, %[en]\n"
                     "mov %[r], x0\n"
                     : [r] "=r"(result)
                     : [en] "r"(enable)
                     : "x0", "x1", "x20", "memory", "cc");
    *x0 = result;
    return MRS(esr_el1);
}

extern void user_loop(void);
extern void user_read_ccntr(void);
__asm__(".section .text\n"
        "user_loop:\n"
        "mov x1, #100\n"
        "1: subs x1, x1, #1\n"
        "b.ne 1b\n"
        "svc #0\n"
        "user_read_ccntr:\n"
        "mov x0, #7\n"
        "mrs x0, pmccntr_el0\n"
        "svc #0\n");

static u64 buffer[8] __attribute__((aligned(64)));

/* Counter 0 BR_RETIRED, counter 1 MEM_ACCESS, counter 2 INST_RETIRED over 10 iterations of: LDR (1 access),
 * STP and LDP (2 each), LDXR and STXR (1 each), PRFM (none), LD1 of four registers (4), a read of the
 * PL011's flag register (an MMIO exit to the VMM, 1) and of GICD_CTLR (the in-kernel GIC, 1); CBZ and TBNZ
 * not taken, BL and RET, B.NE (taken 9 times). Then one B. 13 accesses and 5 branches per iteration. */
static void count_branches_and_accesses(void)
{
    MSR(cpacr_el1, 3UL << 20); /* FP/SIMD at EL1 for LD1 */
    __asm__ volatile("isb");
    MSR(pmcr_el0, 1 | 2);
    MSR(pmevtyper0_el0, 0x21);
    MSR(pmevtyper1_el0, 0x13);
    MSR(pmevtyper2_el0, 0x08);
    u64 br, mem, insts;
    register u64 base __asm__("x17") = (u64)buffer;
    __asm__ volatile("msr pmcntenset_el0, %[en]\n"
                     "mov x9, #10\n"
                     "1: ldr x10, [%[buf]]\n"
                     "stp x10, x11, [%[buf], #16]\n"
                     "ldp x12, x13, [%[buf], #16]\n"
                     "ldxr x14, [%[buf]]\n"
                     "stxr w15, x14, [%[buf]]\n"
                     "prfm pldl1keep, [%[buf]]\n"
                     ".inst 0x4c402000 | (17 << 5)\n" /* ld1 {v0.16b-v3.16b}, [x17] */
                     "ldr w16, [%[uart], #0x18]\n"
                     "ldr w16, [%[gicd]]\n"
                     "cbz x9, 2f\n"
                     "tbnz x9, #63, 2f\n"
                     "bl 3f\n"
                     "subs x9, x9, #1\n"
                     "b.ne 1b\n"
                     "b 2f\n"
                     "3: ret\n"
                     "2: msr pmcntenclr_el0, %[en]\n"
                     "mrs %[br], pmevcntr0_el0\n"
                     "mrs %[mem], pmevcntr1_el0\n"
                     "mrs %[insts], pmevcntr2_el0\n"
                     : [br] "=&r"(br), [mem] "=&r"(mem), [insts] "=&r"(insts)
                     : [en] "r"(7UL), [buf] "r"(base), [uart] "r"(UART_BASE), [gicd] "r"(GICD_BASE)
                     : "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x30", "v0", "v1", "v2", "v3", "cc", "memory");
    puts_raw("branches and accesses: BR_RETIRED ");
    put_dec(br);
    puts_raw(", MEM_ACCESS ");
    put_dec(mem);
    puts_raw(", INST_RETIRED ");
    put_dec(insts);
    puts_raw("\n");
    expect("BR_RETIRED", br, 51);
    expect("MEM_ACCESS", mem, 130);
    expect("INST_RETIRED beside them", insts, 1 + 10 * 15 + 1 + 1);
}

/* PPI 23 enabled at the GIC, the event counters reset, no overflow status, counter 0's overflow interrupt
 * enabled, and counter 0 at start. */
static void overflow_interrupt_on_counter0(u64 start)
{
    gicv3_cpu_init(GICR_BASE);
    wr32(GICD_BASE, (1u << 4) | (1u << 1) | 1u);
    wr32(GICR_BASE + 0x10000 + 0x100, 1u << 23); /* GICR_ISENABLER0: PPI 23 */
    MSR(pmcr_el0, 1 | 2);
    MSR(pmovsclr_el0, 0xffffffffUL);
    MSR(pmintenset_el1, 1);
    MSR(pmevcntr0_el0, start);
}

/* MEM_ACCESS from 3 below 2^32: the first LDP leaves it 1 below, the second overflows it; the overflow
 * interrupt is pending at the next instruction (a run of the CPU must end after the second LDP, not after
 * as many instructions as accesses are left). */
static void count_access_overflow(void)
{
    overflow_interrupt_on_counter0(0xfffffffdUL);
    MSR(pmevtyper0_el0, 0x13);
    u64 c, ovs, hppir;
    __asm__ volatile("msr pmcntenset_el0, %[en]\n"
                     "ldp x10, x11, [%[buf]]\n"
                     "ldp x10, x11, [%[buf]]\n"
                     "mrs %[h], S3_0_C12_C12_2\n" /* ICC_HPPIR1_EL1 */
                     "mrs %[c], pmevcntr0_el0\n"
                     "mrs %[o], pmovsset_el0\n"
                     "msr pmcntenclr_el0, %[en]\n"
                     : [c] "=&r"(c), [o] "=&r"(ovs), [h] "=&r"(hppir)
                     : [en] "r"(1UL), [buf] "r"(buffer)
                     : "x10", "x11", "cc", "memory");
    puts_raw("MEM_ACCESS overflow: counter 0 reads ");
    put_dec(c);
    puts_raw(", PMOVSSET ");
    put_hex(ovs);
    puts_raw(", INTID ");
    put_dec(hppir & 0xffffff);
    puts_raw(" pending after the second LDP\n");
    expect("MEM_ACCESS after overflow", c, 1);
    expect("MEM_ACCESS PMOVSSET", ovs, 1);
    expect("MEM_ACCESS overflow interrupt", hppir & 0xffffff, 23);
    MSR(pmovsclr_el0, 1);
    MSR(pmintenclr_el1, 1);
    __asm__ volatile("isb");
}

static void line(const char *text)
{
    puts_raw(text);
    puts_raw("\n");
}

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301);
    u64 dfr0 = MRS(id_aa64dfr0_el1);
    u64 pmcr = MRS(pmcr_el0);
    if ((dfr0 >> 8 & 0xf) == 0 || (dfr0 >> 8 & 0xf) == 0xf)
        fail("ID_AA64DFR0_EL1.PMUVer", dfr0 >> 8 & 0xf);
    puts_raw("PMU: PMUVer ");
    put_dec(dfr0 >> 8 & 0xf);
    puts_raw(", PMCR_EL0.N ");
    put_dec(pmcr >> 11 & 0x1f);
    puts_raw(", PMCEID0 ");
    put_hex(MRS(pmceid0_el0));
    puts_raw(", PMCEID1 ");
    put_hex(MRS(pmceid1_el0));
    puts_raw("\n");

    u64 c[3];
    count_loop(c);
    puts_raw("loop of ");
    put_dec(LOOP);
    puts_raw(": INST_RETIRED ");
    put_dec(c[0]);
    puts_raw(", CPU_CYCLES ");
    put_dec(c[1]);
    puts_raw(", PMCCNTR ");
    put_dec(c[2]);
    puts_raw("\n");
    expect("INST_RETIRED", c[0], 2 * LOOP);
    expect("CPU_CYCLES", c[1], 2 * LOOP + 1);
    expect("PMCCNTR", c[2], 2 * LOOP + 2);

    count_branches_and_accesses();
    count_access_overflow();

    /* Counter 2 counts EL1 only (U), counter 3 EL0 only (P), counter 0 both; the EL0 code retires 201.
     * Counter 1 counts BR_RETIRED at EL0 (the 100 B.NE, the last not taken), counter 4 at EL1 (the vector's
     * BR; neither the SVC nor the ERET is a branch). */
    MSR(pmcr_el0, 1 | 2);
    MSR(pmevtyper0_el0, 0x08);
    MSR(pmevtyper2_el0, 0x08 | 1UL << 30);
    MSR(pmevtyper3_el0, 0x08 | 1UL << 31);
    MSR(pmevtyper1_el0, 0x21 | 1UL << 31);
    MSR(pmevtyper4_el0, 0x21 | 1UL << 30);
    u64 x0;
    u64 esr = at_el0(user_loop, 0x1f, &x0);
    expect("SVC from EL0", esr >> 26, 0x15);
    u64 both = MRS(pmevcntr0_el0), el1 = MRS(pmevcntr2_el0), el0 = MRS(pmevcntr3_el0);
    puts_raw("EL0 excursion: EL0 ");
    put_dec(el0);
    puts_raw(", EL1 ");
    put_dec(el1);
    puts_raw(", both ");
    put_dec(both);
    puts_raw("\n");
    expect("EL0-only counter", el0, 201);
    expect("EL1-only counter", el1, 2);
    expect("unfiltered counter", both, 203);
    u64 br0 = MRS(pmevcntr1_el0), br1 = MRS(pmevcntr4_el0);
    puts_raw("EL0 excursion: BR_RETIRED at EL0 ");
    put_dec(br0);
    puts_raw(", at EL1 ");
    put_dec(br1);
    puts_raw("\n");
    expect("EL0-only BR_RETIRED", br0, 100);
    expect("EL1-only BR_RETIRED", br1, 1);

    /* SW_INCR: three PMSWINC_EL0 writes to counter 1; counter 2 (INST_RETIRED) is not touched by them. */
    MSR(pmcr_el0, 1 | 2);
    MSR(pmevtyper1_el0, 0x00);
    MSR(pmcntenset_el0, 2);
    MSR(pmswinc_el0, 2);
    MSR(pmswinc_el0, 2);
    MSR(pmswinc_el0, 6);
    MSR(pmcntenclr_el0, 2);
    expect("SW_INCR", MRS(pmevcntr1_el0), 3);
    line("SW_INCR: 3 PMSWINC_EL0 writes counted 3");

    /* Overflow: counter 0 starts 10 below 2^32; 20 instructions later it reads 10, PMOVSSET bit 0 is set
     * and PPI 23 is pending at the GIC (while the counter is enabled, as KVM asserts it). */
    overflow_interrupt_on_counter0(0xfffffff6UL);
    u64 after, ovs, iar;
    __asm__ volatile("msr pmcntenset_el0, %[en]\n"
                     ".rept 20\n nop\n .endr\n"
                     "mrs %[c], pmevcntr0_el0\n"
                     "mrs %[o], pmovsset_el0\n"
                     "mrs %[i], S3_0_C12_C12_0\n"
                     "msr pmcntenclr_el0, %[en]\n"
                     : [c] "=&r"(after), [o] "=&r"(ovs), [i] "=&r"(iar)
                     : [en] "r"(1UL));
    puts_raw("overflow: counter 0 reads ");
    put_dec(after);
    puts_raw(", PMOVSSET ");
    put_hex(ovs);
    puts_raw(", GIC acknowledges INTID ");
    put_dec(iar & 0xffffff);
    puts_raw("\n");
    expect("counter after overflow", after, 10);
    expect("PMOVSSET", ovs, 1);
    expect("overflow interrupt", iar & 0xffffff, 23);
    MSR(pmovsclr_el0, 1);
    __asm__ volatile("isb");
    __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"(iar)); /* EOI */
    expect("the overflow interrupt after PMOVSCLR", MRS(S3_0_C12_C12_2) & 0xffffff, 1023);
    MSR(pmintenclr_el1, 1);

    /* CHAIN: counter 4 counts 33 instructions (32 NOPs and the MSR that stops it) from 16 below 2^32;
     * counter 5 (CHAIN) counts its overflow. */
    MSR(pmevtyper4_el0, 0x08);
    MSR(pmevtyper5_el0, 0x1e);
    MSR(pmevcntr4_el0, 0xfffffff0UL);
    MSR(pmevcntr5_el0, 7);
    u64 lo, hi;
    __asm__ volatile("msr pmcntenset_el0, %[en]\n"
                     ".rept 32\n nop\n .endr\n"
                     "msr pmcntenclr_el0, %[en]\n"
                     : : [en] "r"(0x30UL));
    lo = MRS(pmevcntr4_el0);
    hi = MRS(pmevcntr5_el0);
    puts_raw("CHAIN: counters 5:4 read ");
    put_dec(hi);
    puts_raw(":");
    put_hex(lo);
    puts_raw("\n");
    expect("chained low counter", lo, 0x11);
    expect("chained high counter", hi, 8);
    MSR(pmovsclr_el0, 0xffffffffUL);

    /* PMCR_EL0.LP: 64-bit event counters, no overflow at 2^32. */
    MSR(pmcr_el0, 1 | (1UL << 7));
    MSR(pmevcntr0_el0, 0xfffffff0UL);
    __asm__ volatile("msr pmcntenset_el0, %[en]\n"
                     ".rept 32\n nop\n .endr\n"
                     "msr pmcntenclr_el0, %[en]\n"
                     : : [en] "r"(1UL));
    u64 wide = MRS(pmevcntr0_el0);
    expect("64-bit counter", wide, 0x100000011UL);
    expect("64-bit counter overflow", MRS(pmovsset_el0), 0);
    puts_raw("PMCR_EL0.LP: counter 0 reads ");
    put_hex(wide);
    puts_raw(", no overflow\n");
    MSR(pmcr_el0, 1);

    /* PMUSERENR_EL0: without CR an EL0 read of PMCCNTR_EL0 is UNDEFINED; with CR it reads. */
    MSR(pmuserenr_el0, 0);
    esr = at_el0(user_read_ccntr, 0, &x0);
    expect("EL0 PMCCNTR read without PMUSERENR_EL0.CR", esr >> 26, 0);
    MSR(pmccntr_el0, 12345);
    MSR(pmuserenr_el0, 4);
    esr = at_el0(user_read_ccntr, 0, &x0);
    expect("EL0 PMCCNTR read with PMUSERENR_EL0.CR", esr >> 26, 0x15);
    expect("EL0 PMCCNTR value", x0, 12345);
    MSR(pmuserenr_el0, 0);
    line("PMUSERENR_EL0: EL0 reads PMCCNTR_EL0 only with CR");

    u64 n = 1;
    while (n < MAX_CPUS) {
        long r = psci(PSCI_CPU_ON, affinity_of(n), (u64)secondary_entry, n);
        if (r == PSCI_INVALID_PARAMETERS)
            break;
        if (r != 0)
            fail("CPU_ON", (u64)r);
        while (!__atomic_load_n(&online[n], __ATOMIC_ACQUIRE))
            ;
        if (!counted[n])
            fail("a secondary vCPU's counts", n);
        n++;
    }
    puts_raw("every one of ");
    put_dec(n);
    puts_raw(" vCPUs counted the loop alike\n");
    line("PASS");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

/*
 * Interrupts pending while masked, through the in-kernel GICv3: an SGI to itself (or the virtual timer, PPI 27)
 * is made pending during a long section with PSTATE.I set (or the GIC's priority mask closed); nothing is
 * taken there, and the interrupt is taken exactly once, right after the instruction that unmasks it: MSR
 * DAIFClr, MSR DAIF, an ERET whose SPSR has I clear, a write of ICC_PMR_EL1. The handler records ELR_EL1,
 * which must be the address of the instruction after the unmasking one. Needs -M virt,gic-version=3.
 */
#include "gicv3.h"

#define SPIN 500000
#define DAIF_DAF 0x340UL /* D, A and F masked, I clear */

extern char vectors[];
static volatile u64 taken;
static volatile u64 intid;
static volatile u64 elr;

void unexpected_exception(u64 esr, u64 elr_)
{
    put_line("unexpected exception, esr", esr);
    put_line("elr", elr_);
    psci_system_off();
}

void irq_handler(void)
{
    u64 iar = SYSREG_READ("s3_0_c12_c12_0");
    u32 id = (u32)iar & 0xffffff;
    elr = SYSREG_READ("elr_el1");
    intid = id;
    taken++;
    if (id == 27)
        SYSREG_WRITE("cntv_ctl_el0", 0);
    if (id < 1020)
        SYSREG_WRITE("s3_0_c12_c12_1", iar);
}

static void spin(u64 n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(n) : : "cc");
}

static void send_sgi1(void)
{
    SYSREG_WRITE("s3_0_c12_c11_5", (1UL << 24) | 1); /* ICC_SGI1R_EL1: SGI 1 to Aff0 = 0 */
    __asm__ volatile("isb");
}

/* Each unmasks IRQs with one instruction, masks them again after it, and returns the address of the instruction after the unmasking one. */
static u64 unmask_daifclr(void)
{
    u64 at;
    __asm__ volatile("adr %0, 1f\n\tmsr daifclr, #2\n1:\tnop\n\tmsr daifset, #2" : "=&r"(at) : : "memory");
    return at;
}

static u64 unmask_msr_daif(void)
{
    u64 at;
    __asm__ volatile("adr %0, 1f\n\tmsr daif, %1\n1:\tnop\n\tmsr daifset, #2" : "=&r"(at) : "r"(DAIF_DAF) : "memory");
    return at;
}

static u64 unmask_eret(void)
{
    u64 at;
    __asm__ volatile("adr %0, 1f\n\tmsr elr_el1, %0\n\tmsr spsr_el1, %1\n\teret\n1:\tnop\n\tmsr daifset, #2"
                     : "=&r"(at) : "r"(DAIF_DAF | 0x5) : "memory"); /* SPSR: EL1h, I clear */
    return at;
}

static u64 unmask_pmr(void)
{
    u64 at;
    __asm__ volatile("adr %0, 1f\n\tmsr s3_0_c4_c6_0, %1\n1:\tnop\n\tmsr daifset, #2" : "=&r"(at) : "r"(0xffUL) : "memory");
    return at;
}

static void report(const char *how, u64 before, u64 at)
{
    puts(how);
    puts(": none while masked ");
    puts(before == 0 ? "yes" : "no");
    puts(", taken ");
    put_dec(taken);
    puts(", intid ");
    put_dec(intid);
    puts(", right after the unmasking instruction ");
    puts(elr == at ? "yes" : "no");
    puts("\n");
    taken = 0;
    intid = 0;
    elr = 0;
}

int main(void)
{
    puts("irqmask: start\n");
    SYSREG_WRITE("vbar_el1", (u64)vectors);
    __asm__ volatile("isb");
    gicv3_init((1u << 27) | (1u << 1)); /* the virtual timer (PPI 27) and SGI 1 */
    __asm__ volatile("msr daifset, #2");

    send_sgi1();
    spin(SPIN);
    u64 before = taken;
    report("msr daifclr", before, unmask_daifclr());

    send_sgi1();
    spin(SPIN);
    before = taken;
    report("msr daif", before, unmask_msr_daif());

    send_sgi1();
    spin(SPIN);
    before = taken;
    report("eret", before, unmask_eret());

    /* The GIC's priority mask closed, PSTATE.I clear: the SGI stays pending in the GIC until the PMR opens. */
    SYSREG_WRITE("s3_0_c4_c6_0", 0);
    __asm__ volatile("isb\n\tmsr daifclr, #2");
    send_sgi1();
    spin(SPIN);
    before = taken;
    report("msr icc_pmr_el1", before, unmask_pmr());

    /* The timer: it expires during the masked section, which goes on long after. */
    SYSREG_WRITE("cntv_tval_el0", 100);
    SYSREG_WRITE("cntv_ctl_el0", 1);
    while ((SYSREG_READ("cntv_ctl_el0") & 4) == 0)
        ;
    spin(SPIN);
    before = taken;
    report("timer, msr daifclr", before, unmask_daifclr());

    puts("irqmask: done\n");
    return 0;
}

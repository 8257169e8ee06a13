/*
 * Interrupts through the in-kernel GICv3: the EL1 virtual timer (PPI 27) fires five times, each
 * acknowledged through ICC_IAR1_EL1 and completed through ICC_EOIR1_EL1 while the CPU sleeps in WFI;
 * then an SGI to itself through ICC_SGI1R_EL1. Needs -M virt,gic-version=3.
 */
#include "lib.h"

#define GICD 0x08000000UL
#define GICR 0x080A0000UL
#define GICR_SGI (GICR + 0x10000UL)

#define REG32(a) (*(volatile u32 *)(a))
#define SYSREG_WRITE(name, v) __asm__ volatile("msr " name ", %0" : : "r"((u64)(v)) : "memory")
#define SYSREG_READ(name) ({ u64 _v; __asm__ volatile("mrs %0, " name : "=r"(_v) : : "memory"); _v; })

extern char vectors[];
static volatile u64 ticks;
static volatile u64 sgis;
static volatile u64 spurious;
static u64 period;

void unexpected_exception(u64 esr, u64 elr)
{
    put_line("unexpected exception, esr", esr);
    put_line("elr", elr);
    psci_system_off();
}

void irq_handler(void)
{
    u64 iar = SYSREG_READ("s3_0_c12_c12_0");
    u32 intid = (u32)iar & 0xffffff;
    if (intid == 27) {
        ticks++;
        if (ticks < 5)
            SYSREG_WRITE("cntv_tval_el0", period);
        else
            SYSREG_WRITE("cntv_ctl_el0", 0);
    } else if (intid == 1) {
        sgis++;
    } else {
        spurious++;
    }
    if (intid < 1020)
        SYSREG_WRITE("s3_0_c12_c12_1", iar);
}

int main(void)
{
    puts("timer: start\n");
    SYSREG_WRITE("vbar_el1", (u64)vectors);
    __asm__ volatile("isb");

    REG32(GICD + 0x0) = 0x12; /* GICD_CTLR: ARE, EnableGrp1 */
    REG32(GICR + 0x14) &= ~2u; /* GICR_WAKER.ProcessorSleep = 0 */
    while (REG32(GICR + 0x14) & 4u)
        ;
    REG32(GICR_SGI + 0x80) = 0xffffffffu;               /* GICR_IGROUPR0: group 1 */
    REG32(GICR_SGI + 0x400 + 24) = 0x80808080u;         /* priorities of 24..27 */
    REG32(GICR_SGI + 0x400 + 0) = 0x80808080u;          /* priorities of 0..3 */
    REG32(GICR_SGI + 0x100) = (1u << 27) | (1u << 1);   /* GICR_ISENABLER0 */

    SYSREG_WRITE("s3_0_c12_c12_5", SYSREG_READ("s3_0_c12_c12_5") | 1); /* ICC_SRE_EL1.SRE */
    __asm__ volatile("isb");
    SYSREG_WRITE("s3_0_c4_c6_0", 0xff); /* ICC_PMR_EL1 */
    SYSREG_WRITE("s3_0_c12_c12_7", 1);  /* ICC_IGRPEN1_EL1 */
    __asm__ volatile("isb");

    u64 freq = SYSREG_READ("cntfrq_el0");
    period = freq / 1000;
    u64 start = SYSREG_READ("cntvct_el0");
    SYSREG_WRITE("cntv_tval_el0", period);
    SYSREG_WRITE("cntv_ctl_el0", 1);
    __asm__ volatile("msr daifclr, #2");
    while (ticks < 5)
        __asm__ volatile("wfi");
    u64 elapsed = SYSREG_READ("cntvct_el0") - start;

    SYSREG_WRITE("s3_0_c12_c11_5", (1UL << 24) | 1); /* ICC_SGI1R_EL1: SGI 1 to Aff0 = 0 */
    __asm__ volatile("isb");
    while (sgis < 1)
        __asm__ volatile("wfi");

    puts("ticks ");
    put_dec(ticks);
    puts(" sgis ");
    put_dec(sgis);
    puts(" spurious ");
    put_dec(spurious);
    puts("\nelapsed >= 5 periods: ");
    puts(elapsed >= 5 * period ? "yes" : "no");
    puts("\ncntfrq ");
    put_dec(freq);
    puts("\ntimer: done\n");
    return 0;
}

/*
 * Interrupts through the in-kernel GICv3: the EL1 virtual timer (PPI 27) fires five times, each
 * acknowledged through ICC_IAR1_EL1 and completed through ICC_EOIR1_EL1 while the CPU sleeps in WFI;
 * then an SGI to itself through ICC_SGI1R_EL1. Needs -M virt,gic-version=3.
 */
#include "gicv3.h"

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

    gicv3_init((1u << 27) | (1u << 1)); /* the virtual timer (PPI 27) and SGI 1 */

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

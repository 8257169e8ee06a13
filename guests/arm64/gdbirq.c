/*
 * The guest of the gdb stepping sessions (tests/SoftKvm.Cli.Tests/GdbSessionTests.cs): the EL1 virtual
 * timer (PPI 27, through the in-kernel GICv3) fires continuously, re-armed for a tenth of a millisecond by
 * each interrupt, while the primary calls step_here(), a few instructions with a store to the PL011's data
 * register (an MMIO exit) in the middle. A debugger steps through step_here with an interrupt pending at
 * every step; it must advance one instruction per step and never land at the IRQ vector (QEMU's
 * SSTEP_NOIRQ). When the debugger writes 1 to `release`, the primary waits for one more interrupt,
 * prints and powers off. Linked with its symbols (not stripped): gdb needs them.
 */
#include "gicv3.h"

extern char vectors[];
void step_here(void);
volatile u64 ticks;
volatile u64 release;
volatile u64 calls;
static u64 period;

/* Six instructions and a return; x9 counts, the store prints '.'. */
__asm__(
    "    .text\n"
    "    .global step_here\n"
    "    .type step_here, %function\n"
    "step_here:\n"
    "    add x9, x9, #1\n"
    "    add x9, x9, #1\n"
    "    movz x10, #0x900, lsl #16\n"
    "    mov w11, #0x2e\n"
    "    str w11, [x10]\n"
    "    add x9, x9, #1\n"
    "    ret\n"
    "    .size step_here, . - step_here\n");

void unexpected_exception(u64 esr, u64 elr)
{
    put_line("unexpected exception, esr", esr);
    put_line("elr", elr);
    psci_system_off();
}

void irq_handler(void)
{
    u64 iar = SYSREG_READ("s3_0_c12_c12_0");
    if (((u32)iar & 0xffffff) == 27) {
        ticks++;
        SYSREG_WRITE("cntv_tval_el0", period);
    }
    if (((u32)iar & 0xffffff) < 1020)
        SYSREG_WRITE("s3_0_c12_c12_1", iar);
}

int main(void)
{
    puts("gdbirq: start\n");
    SYSREG_WRITE("vbar_el1", (u64)vectors);
    __asm__ volatile("isb");

    gicv3_init(1u << 27); /* the virtual timer (PPI 27) */

    period = SYSREG_READ("cntfrq_el0") / 10000;
    SYSREG_WRITE("cntv_tval_el0", period);
    SYSREG_WRITE("cntv_ctl_el0", 1);
    __asm__ volatile("msr daifclr, #2");
    while (ticks < 3)
        ;
    puts("gdbirq: interrupts firing\n");

    while (!release) {
        step_here();
        calls++;
    }

    u64 at = ticks;
    while (ticks == at)
        ;
    puts("\ngdbirq: an interrupt was taken after the release\n");
    put_line("calls ", calls);
    return 0;
}

/*
 * The guest of the gdb stepping sessions (tests/SoftKvm.Cli.Tests/GdbSessionTests.cs): the EL1 virtual
 * timer (PPI 27, through the in-kernel GICv3) fires continuously, re-armed for a tenth of a millisecond by
 * each interrupt, while the primary calls step_here(), a few instructions with a store to the PL011's data
 * register (an MMIO exit) in the middle. A debugger steps through step_here with an interrupt pending at
 * every step; it must advance one instruction per step and never land at the IRQ vector (QEMU's
 * SSTEP_NOIRQ). When the debugger writes 1 to `release`, the primary waits for one more interrupt,
 * prints and powers off. Linked with its symbols (not stripped): gdb needs them.
 */
#include "lib.h"

#define GICD 0x08000000UL
#define GICR 0x080A0000UL
#define GICR_SGI (GICR + 0x10000UL)

#define REG32(a) (*(volatile u32 *)(a))
#define SYSREG_WRITE(name, v) __asm__ volatile("msr " name ", %0" : : "r"((u64)(v)) : "memory")
#define SYSREG_READ(name) ({ u64 _v; __asm__ volatile("mrs %0, " name : "=r"(_v) : : "memory"); _v; })

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

    REG32(GICD + 0x0) = 0x12; /* GICD_CTLR: ARE, EnableGrp1 */
    REG32(GICR + 0x14) &= ~2u; /* GICR_WAKER.ProcessorSleep = 0 */
    while (REG32(GICR + 0x14) & 4u)
        ;
    REG32(GICR_SGI + 0x80) = 0xffffffffu;       /* GICR_IGROUPR0: group 1 */
    REG32(GICR_SGI + 0x400 + 24) = 0x80808080u; /* priorities of 24..27 */
    REG32(GICR_SGI + 0x100) = 1u << 27;         /* GICR_ISENABLER0 */
    SYSREG_WRITE("s3_0_c12_c12_5", SYSREG_READ("s3_0_c12_c12_5") | 1); /* ICC_SRE_EL1.SRE */
    __asm__ volatile("isb");
    SYSREG_WRITE("s3_0_c4_c6_0", 0xff); /* ICC_PMR_EL1 */
    SYSREG_WRITE("s3_0_c12_c12_7", 1);  /* ICC_IGRPEN1_EL1 */
    __asm__ volatile("isb");

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

/* The x86 guest of the gdb stepping session (tests/SoftKvm.Cli.Tests/GdbSessionTests.cs): the local APIC
   timer fires every 0.2 ms (periodic, vector 0x40) while the BSP calls step_here(), six instructions with an
   OUT to COM1 (an IO exit) in the middle. A debugger steps through step_here with the timer's interrupt
   pending at every step; each step must run one instruction and none may enter the handler (QEMU's
   SSTEP_NOIRQ, KVM_GUESTDBG_BLOCKIRQ). When the debugger writes 1 to `release`, the BSP waits for one more
   interrupt, prints and exits through isa-debug-exit (0). Linked with its symbols: gdb needs them. */
#include "lib.h"

extern void isr_40(void);
void step_here(void);
volatile u32 ticks, release, calls;

/* inc ecx (1 byte), inc ecx, mov edx, 0x3f8 (5), mov al, '.' (2), out dx, al (1), inc ecx, ret. */
__asm__(
    "    .text\n"
    "    .globl step_here\n"
    "    .type step_here, @function\n"
    "step_here:\n"
    "    inc %ecx\n"
    "    inc %ecx\n"
    "    mov $0x3f8, %edx\n"
    "    mov $0x2e, %al\n"
    "    outb %al, %dx\n"
    "    inc %ecx\n"
    "    ret\n"
    "    .size step_here, . - step_here\n");

void on_irq40(u32 *frame)
{
    (void)frame;
    ticks++;
    lapic_write(LAPIC_EOI, 0);
}

int main(u32 info)
{
    (void)info;
    gdt_load();
    idt_init();
    idt_set(0x40, isr_40);
    idt_load();
    lapic_enable();
    puts("gdbirq: start\n");
    lapic_write(0x3E0, 0xB);     /* timer divide configuration: by 1 (a 1 GHz bus) */
    lapic_write(0x320, 0x20040); /* LVT timer: periodic, vector 0x40 */
    lapic_write(0x380, 200000);  /* initial count: 0.2 ms */
    __asm__ volatile("sti");
    while (ticks < 3)
        ;
    puts("gdbirq: interrupts firing\n");

    while (!release)
    {
        step_here();
        calls++;
    }

    u32 at = ticks;
    while (ticks == at)
        ;
    puts("\ngdbirq: an interrupt was taken after the release, calls ");
    putdec(calls);
    putc('\n');
    return 0;
}

/* The x86 guest of the gdb-multiarch sessions (tests/SoftKvm.Cli.Tests/GdbSessionTests.cs), run with
   --smp 2: the BSP starts the AP (INIT, SIPI), calls tick() with a rising count that it stores in `counter`
   (a breakpoint and a watchpoint target) while the AP counts in `ap_ticks` (a second thread), until the
   debugger writes 1 to `release`; then the BSP prints the count and exits through isa-debug-exit (0).
   Linked with its symbols: gdb needs them. */
#include "lib.h"

#define AP_TRAMP 0x7000u

extern char ap_tramp[], ap_tramp_end[];
volatile u32 counter, ap_ticks, release;

__attribute__((noinline)) void tick(u32 n)
{
    counter = n;
}

void ap_main(void)
{
    while (!release)
        ap_ticks++;
    for (;;)
        __asm__ volatile("cli; hlt");
}

int main(u32 info)
{
    (void)info;
    gdt_load();
    idt_init();
    idt_load();
    lapic_enable();
    puts("gdbtarget: start\n");
    for (u32 i = 0; i < (u32)(ap_tramp_end - ap_tramp); i++)
        ((volatile char *)AP_TRAMP)[i] = ap_tramp[i];
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, 0x000C4500); /* INIT, assert, all excluding self */
    lapic_wait_icr();
    for (int s = 0; s < 2; s++)
    {
        lapic_write(LAPIC_ICR_LO, 0x000C4600 | (AP_TRAMP >> 12)); /* SIPI */
        lapic_wait_icr();
    }

    while (!ap_ticks) /* the AP is in ap_main before the first tick */
        __asm__ volatile("pause");
    for (u32 i = 1; !release; i++)
        tick(i);
    puts("gdbtarget: released, counter ");
    putdec(counter);
    putc('\n');
    return 0;
}

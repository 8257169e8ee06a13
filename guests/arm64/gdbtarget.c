/*
 * The guest of the gdb-multiarch sessions (tests/SoftKvm.Cli.Tests/GdbSessionTests.cs): the primary calls
 * tick() with a rising count that it stores in `counter` (a breakpoint and a watchpoint target), a
 * secondary started with PSCI CPU_ON counts in `secondary_ticks` (a second thread), and both run until
 * the debugger writes 1 to `release`; then the primary prints the values and powers off.
 * Linked with its symbols (not stripped): gdb needs them.
 */
#include "lib.h"

#define PSCI_CPU_ON 0xC4000003UL

extern char secondary_entry[];
volatile u64 counter;
volatile u64 secondary_ticks;
volatile u64 release;

__attribute__((noinline)) void tick(u64 n)
{
    counter = n;
}

void secondary_main(u64 index)
{
    (void)index;
    while (!release)
        secondary_ticks++;
}

int main(void)
{
    puts("gdbtarget: start\n");
    psci_call(PSCI_CPU_ON, 1, (u64)secondary_entry, 1);
    while (!secondary_ticks) /* the secondary is in secondary_main before the first tick */
        ;
    for (u64 i = 1; !release; i++)
        tick(i);
    puts("gdbtarget: released\n");
    put_line("counter ", counter);
    return 0;
}

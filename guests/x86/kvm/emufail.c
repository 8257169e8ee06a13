/* One emulation failure on the PC machine: a few loads from the virtio-console's MMIO window (each an
   emulated MMIO load, a userspace MMIO exit), a few local-APIC accesses (in-kernel: no exit), then a call
   into the MMIO window. Code cannot be fetched from MMIO, so the emulator fails at CPL 0: KVM_EXIT_INTERNAL_ERROR
   (emulation), insn_emulation_fail + 1 and no mmio_exits for it. The run ends there (softkvm exit code 3). */
#include "lib.h"

#define LOADS 3

int main(u32 info)
{
    gdt_load();
    idt_init();
    idt_load();
    lapic_enable();
    u32 console = virtio_find(info, 3);
    if (!console)
    {
        die("no virtio-console on the command line");
    }

    u32 sum = 0;
    for (int i = 0; i < LOADS; i++)
    {
        sum += mmio_read(console + VIRTIO_MAGIC) == 0x74726976;
        sum += lapic_read(LAPIC_ID) == 0;
    }

    check("MMIO and local APIC reads", sum == 2 * LOADS);
    puts("calling into MMIO\n");
    ((void (*)(void))console)();
    die("returned from MMIO");
}

// Entry of the SoftKvm arm64 test guests: set a stack, clear .bss, run main, power off via PSCI.
// Secondary CPUs started with PSCI CPU_ON enter at secondary_entry with x0 = their index (1..7)
// and get a 16 KiB stack each below the primary's.
    .section .text.boot, "ax"
    .global _start
_start:
    ldr     x1, =__stack_top
    mov     sp, x1
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  bl      main
    bl      psci_system_off
3:  wfi
    b       3b

    .global secondary_entry
secondary_entry:
    ldr     x1, =__stack_top
    lsl     x2, x0, #14
    sub     x1, x1, x2
    mov     sp, x1
    bl      secondary_main
    bl      psci_cpu_off
4:  wfi
    b       4b

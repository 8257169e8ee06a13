// Entry points of the SMP guests (demo, sgi): QEMU virt memory map, EL1, MMU off.
// vCPU 0 enters at _start with x0 = DTB; secondaries enter at secondary_entry through PSCI CPU_ON
// with x0 = their context id (their index). Each vCPU gets STACK_SIZE bytes of stack; MAX_CPUS of
// them (both set by the guest's Makefile).
    .section .text.boot, "ax"
    .global _start
_start:
    mov     x19, #0                     // vCPU index 0
    b       common

    .global secondary_entry
secondary_entry:
    mov     x19, x0                     // context id = index

common:
    ldr     x1, =stacks_top
    mov     x2, #STACK_SIZE
    mul     x3, x19, x2
    sub     x1, x1, x3
    mov     sp, x1
    mov     x0, x19
    cbnz    x19, 1f
    // vCPU 0 clears .bss (secondaries start after it is cleared).
    ldr     x2, =__bss_start
    ldr     x3, =__bss_end
2:  cmp     x2, x3
    b.hs    3f
    str     xzr, [x2], #8
    b       2b
3:  bl      primary_main
    b       halt
1:  bl      secondary_main
halt:
    wfi
    b       halt

    .section .bss
    .balign 16
stacks:
    .space  STACK_SIZE * MAX_CPUS
stacks_top:

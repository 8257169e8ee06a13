/* The AP start-up code: copied by the BSP to AP_TRAMP (0x7000, SIPI vector 7), entered in real mode with
   CS = 0x0700, IP = 0. Loads the flat GDT, enters protected mode, takes the next AP stack and calls ap_main. */
    .section .rodata
    .globl ap_tramp, ap_tramp_end
    .code16
ap_tramp:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl (ap_gdtr - ap_tramp)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x10, $ap_start32
    .align 4
ap_gdtr:
    .word ap_gdt_end - ap_gdt - 1
    .long ap_gdt
ap_tramp_end:

    .align 8
ap_gdt:
    .quad 0
    .quad 0
    .quad 0x00CF9B000000FFFF
    .quad 0x00CF93000000FFFF
ap_gdt_end:

    .code32
    .text
ap_start32:
    mov $0x18, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $1, %eax
    lock xadd %eax, ap_stack_index
    inc %eax
    shl $12, %eax
    add $ap_stacks, %eax
    mov %eax, %esp
    call ap_main
1:  cli
    hlt
    jmp 1b

    .bss
    .align 4
ap_stack_index:
    .long 0
    .align 16
ap_stacks:
    .space 4096 * 16

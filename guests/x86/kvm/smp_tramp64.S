/* The AP start-up code of the 64-bit guests: copied by the BSP to AP_TRAMP (0x7000, SIPI vector 7), entered in
   real mode with CS = 0x0700, IP = 0. Loads the GDT below, enters protected mode, then long mode with the BSP's
   page tables (ap_cr3, stored by start64.S), takes the next AP stack and calls ap_main. */
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
    .quad 0x00AF9B000000FFFF    /* 0x08: 64-bit code */
    .quad 0x00CF9B000000FFFF    /* 0x10: 32-bit code */
    .quad 0x00CF93000000FFFF    /* 0x18: data */
ap_gdt_end:

    .text
    .code32
ap_start32:
    mov $0x18, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %cr4, %eax
    or $0x20, %eax          /* PAE */
    mov %eax, %cr4
    mov ap_cr3, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx   /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    ljmp $0x08, $ap_start64

    .code64
ap_start64:
    mov $1, %eax
    lock xadd %eax, ap_stack_index(%rip)
    inc %eax
    shl $12, %eax
    lea ap_stacks(%rip), %rsp
    add %rax, %rsp
    call ap_main
1:  cli
    hlt
    jmp 1b

    .data
    .globl ap_cr3
    .align 4
ap_cr3:
    .long 0

    .bss
    .align 4
ap_stack_index:
    .long 0
    .align 4096
ap_stacks:
    .space 4096 * 16

/* Multiboot v1 entry of the 64-bit guests (exits64.elf): from 32-bit protected mode, identity page tables for
   4 GiB (2 MiB pages; 3 GiB and up, the PC's device window, uncached), PAE, EFER.LME and paging, then a far jump
   to the 64-bit image (LONG64_BIN, linked at 0x200000 by link64.ld) with the Multiboot information in EDI. */
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0
    .long -0x1BADB002

    .text
    .code32
    .globl _start
_start:
    cli
    mov $boot_stack_top, %esp
    mov %ebx, boot_info
    /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories */
    movl $pdpt + 3, pml4
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $pd + 3, %eax
    mov %eax, pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    /* 2048 entries of 2 MiB: P, RW, PS; PWT and PCD from 3 GiB (entry 1536) */
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    cmp $1536, %ecx
    jb 3f
    or $0x18, %eax
3:  mov %eax, pd(,%ecx,8)
    mov %ecx, %eax
    shr $11, %eax
    mov %eax, pd+4(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b
    mov $pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax          /* PAE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx   /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    lgdt boot_gdt_desc
    mov boot_info, %edi
    ljmp $0x08, $0x200000

    .data
    .align 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF    /* 0x10: data */
boot_gdt_desc:
    .word 23
    .long boot_gdt
boot_info:
    .long 0

    .section .long64, "ax"
    .incbin LONG64_BIN

    .bss
    .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096 * 4
    .align 16
    .skip 4096
boot_stack_top:

/* Multiboot v1 entry in 32-bit protected mode: build identity page tables for the first GiB
 * (2 MiB pages), enable PAE, EFER.LME and paging, load a GDT with a 64-bit code segment and
 * far-jump to the 64-bit image linked at 0x200000. */
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0x00000000
    .long -(0x1BADB002 + 0x00000000)

    .section .text
    .code32
    .global _start
_start:
    cli
    movl $stack_top, %esp
    movl %eax, boot_magic
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $3, %eax
    movl %eax, pdpt
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, pd(,%ecx,8)
    movl $0, pd+4(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b
    movl $pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $0xC0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    lgdt gdt_desc
    movl boot_magic, %edi
    ljmp $0x08, $0x200000

    .section .data
    .align 8
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
gdt_desc:
    .word 23
    .long gdt
boot_magic:
    .long 0

    .section .long64, "ax"
    .incbin "build/long64.bin"

    .section .bss
    .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .align 16
    .skip 4096
stack_top:

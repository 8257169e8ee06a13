/* Multiboot v1 entry: 32-bit protected mode, flat segments, paging off. main(info) gets EBX. */
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0
    .long -0x1BADB002

    .text
    .globl _start
_start:
    mov $stack_top, %esp
    push %ebx
    call main
    movw $0xF4, %dx
    outl %eax, %dx
1:  cli
    hlt
    jmp 1b

/* Any other vector: count, say so on COM1 and leave through isa-debug-exit with 0x7F (exit code 255). */
    .globl other_entry
other_entry:
    cli
    incl other_count
    mov $other_msg, %esi
    mov $0x3F8, %dx
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  mov $0x7F, %eax
    mov $0xF4, %dx
    outl %eax, %dx
2:  hlt
    jmp 2b

    .section .rodata
other_msg:
    .asciz "FAIL unexpected exception\n"

    .bss
    .globl other_count
    .align 4
other_count:
    .long 0
    .align 16
    .space 8192
stack_top:

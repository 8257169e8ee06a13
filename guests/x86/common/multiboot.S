/* Multiboot v1 header and 32-bit entry: a stack, then main(). */
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
    pushl %ebx
    pushl %eax
    call main
1:  hlt
    jmp 1b

    .section .bss
    .align 16
stack_bottom:
    .skip 16384
stack_top:

/* Multiboot v1 entry: 32-bit protected mode, flat segments, paging off. */
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0
    .long -0x1BADB002

    .text
    .globl _start
_start:
    mov $stack_top, %esp
    call main
    movw $0xF4, %dx
    outl %eax, %dx
1:  cli
    hlt
    jmp 1b

/* #DB: count, record the saved EIP, clear TF and set RF in the saved EFLAGS. */
    .globl db_entry
db_entry:
    push %eax
    incl db_count
    mov 4(%esp), %eax
    mov %eax, db_eip
    andl $~0x100, 12(%esp)
    orl $0x10000, 12(%esp)
    pop %eax
    iret

/* #UD: count, record the saved EIP, skip the 2-byte instruction, clear TF. */
    .globl ud_entry
ud_entry:
    push %eax
    incl ud_count
    mov 4(%esp), %eax
    mov %eax, ud_eip
    addl $2, 4(%esp)
    andl $~0x100, 12(%esp)
    pop %eax
    iret

/* Any other vector: count and stop. */
    .globl other_entry
other_entry:
    incl other_count
    cli
2:  hlt
    jmp 2b

    .bss
    .align 16
    .space 8192
stack_top:

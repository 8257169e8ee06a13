/* 64-bit entry (linked at 0x200000): data segments, stack, main64; interrupt stubs. */
    .section .text.entry, "ax"
    .code64
    .global entry64
entry64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    leaq stack64_top(%rip), %rsp
    call main64
1:  hlt
    jmp 1b

    .text
    .global bp_stub
bp_stub:
    pushq %rax
    movq bp_count(%rip), %rax
    incq %rax
    movq %rax, bp_count(%rip)
    popq %rax
    iretq

    .global de_stub
de_stub:
    /* #DE: record it and skip the 3-byte "div %rcx" (48 f7 f1) that faulted. */
    incq de_count(%rip)
    addq $3, (%rsp)
    iretq

    .data
    .global bp_count
    .global de_count
    .align 8
bp_count: .quad 0
de_count: .quad 0
    .align 16
    .skip 16384
stack64_top:

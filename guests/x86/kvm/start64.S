/* The 64-bit image's entry (linked at 0x200000 by link64.ld, entered from boot64.S in long mode, the Multiboot
   information in EDI): stack, main(info), then isa-debug-exit with main's result. Also the CR3 the APs take
   (smp_tramp64.S) and the handler of every vector a guest does not use. */
    .section .text.entry, "ax"
    .code64
    .globl entry64
entry64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    lea stack_top(%rip), %rsp
    mov %cr3, %rax
    mov %eax, ap_cr3(%rip)
    call main
    mov $0xF4, %dx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

    .text
/* Any other vector: count, say so on COM1 and leave through isa-debug-exit with 0x7F (exit code 255). */
    .globl other_entry
other_entry:
    cli
    incl other_count(%rip)
    lea other_msg(%rip), %rsi
    mov $0x3F8, %dx
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  mov $0x7F, %eax
    mov $0xF4, %dx
    out %eax, %dx
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
    .space 16384
stack_top:

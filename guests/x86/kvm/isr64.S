/* The 64-bit interrupt stubs that call C: handler(unsigned long *frame) with frame[0] = error code (0 when the
   vector pushes none), frame[1] = RIP, frame[2] = CS, frame[3] = RFLAGS, frame[-1] = RAX (as isr.S's PUSHAL frame
   has EAX there); the handler may edit the frame. The caller-saved registers are saved around the call. */
.macro ISR name, handler, errcode
    .globl \name
\name:
    .if \errcode == 0
    pushq $0
    .endif
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    lea 72(%rsp), %rdi
    sub $8, %rsp            /* 16-byte alignment at the call */
    call \handler
    add $8, %rsp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $8, %rsp
    iretq
.endm

    .text
    ISR isr_db, on_db, 0
    ISR isr_bp, on_bp, 0
    ISR isr_of, on_of, 0
    ISR isr_ud, on_ud, 0
    ISR isr_pf, on_pf, 1
    ISR isr_40, on_irq40, 0
    ISR isr_41, on_irq41, 0
    ISR isr_42, on_irq42, 0
    ISR isr_43, on_irq43, 0

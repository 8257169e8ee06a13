/* Interrupt stubs that call C: handler(u32 *frame) with frame[0] = error code (0 when the vector pushes
   none), frame[1] = EIP, frame[2] = CS, frame[3] = EFLAGS; the handler may edit the frame. */
.macro ISR name, handler, errcode
    .globl \name
\name:
    .if \errcode == 0
    push $0
    .endif
    pushal
    lea 32(%esp), %eax
    push %eax
    call \handler
    add $4, %esp
    popal
    add $4, %esp
    iret
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

/* The vectors dbgrules.c watches: each stub calls on_event(vector, frame) with frame[0] = EIP,
   frame[1] = CS, frame[2] = EFLAGS (none of these vectors pushes an error code); the handler may edit
   the frame. */
.macro EVENT name, vector
    .globl \name
\name:
    pushal
    lea 32(%esp), %eax
    push %eax
    push $\vector
    call on_event
    add $8, %esp
    popal
    iret
.endm

    .text
    EVENT isr_db, 1
    EVENT isr_bp, 3
    EVENT isr_ud, 6
    EVENT isr_80, 0x80

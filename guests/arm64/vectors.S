// Exception vectors for the guests that take interrupts: IRQ from the current EL (SPx) calls
// irq_handler() with the caller-saved registers preserved; every other vector reports the syndrome
// through unexpected_exception(esr, elr) and powers off.
    .text
    .balign 2048
    .global vectors
vectors:
    .irp slot, 0,1,2,3,4
    .balign 0x80
    b       unexpected
    .endr
    .balign 0x80
    b       irq_entry
    .irp slot, 6,7,8,9,10,11,12,13,14,15
    .balign 0x80
    b       unexpected
    .endr

irq_entry:
    sub     sp, sp, #176
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      irq_handler
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #176
    eret

unexpected:
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    bl      unexpected_exception
1:  b       1b

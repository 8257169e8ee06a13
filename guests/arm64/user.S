// Entering EL0 and coming back: run_user(entry, user_sp, arg) saves the kernel's callee-saved
// registers and SP, then ERETs to EL0t at entry with x0 = arg. The EL0 synchronous vector (slot 8)
// saves the user frame and calls sync_lower(frame, esr, far); when it returns non-zero the user
// program is over and run_user returns that value in the saved kernel context.
    .text
    .balign 2048
    .global user_vectors
user_vectors:
    .irp slot, 0,1,2,3,4,5,6,7
    .balign 0x80
    b       kernel_fault
    .endr
    .balign 0x80
    b       lower_sync
    .irp slot, 9,10,11,12,13,14,15
    .balign 0x80
    b       kernel_fault
    .endr

    .global run_user
run_user:
    adrp    x9, kernel_ctx
    add     x9, x9, :lo12:kernel_ctx
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    stp     x29, x30, [x9, #80]
    mov     x10, sp
    str     x10, [x9, #96]
    msr     sp_el0, x1
    msr     elr_el1, x0
    msr     spsr_el1, xzr
    mov     x0, x2
    eret

lower_sync:
    sub     sp, sp, #256
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
    mov     x0, sp
    mrs     x1, esr_el1
    mrs     x2, far_el1
    bl      sync_lower
    cbnz    x0, back_to_kernel
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
    add     sp, sp, #256
    eret

back_to_kernel:
    adrp    x9, kernel_ctx
    add     x9, x9, :lo12:kernel_ctx
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldp     x29, x30, [x9, #80]
    ldr     x10, [x9, #96]
    mov     sp, x10
    ret

kernel_fault:
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    bl      unexpected_exception
1:  b       1b

    .bss
    .balign 16
kernel_ctx:
    .skip 112

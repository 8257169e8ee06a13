// arm64-diff reference harness: the loader, epilogue and fault exit (see ref.c and README.md).
// All three address the harness's data page through absolute MOVZ constants, so they can be copied
// to the fixed code page. Layout (must match DiffLayout.cs):
//   DATA  = 0x11000000: input state (X0..X30, SP, NZCV) at +0, output at +0x200, host save area at +0x400.

        .set DATA, 0x1100

        .text
        .global loader_start
        .global loader_end
        .global epi_start
        .global epi_end
        .global fault_exit

// Saves the host's callee-saved registers, SP and TPIDR_EL0, loads the case's state, and falls
// through into the block that follows it in the code page.
        .balign 4
loader_start:
        movz    x9, #DATA, lsl #16
        add     x9, x9, #0x400
        stp     x19, x20, [x9, #0]
        stp     x21, x22, [x9, #16]
        stp     x23, x24, [x9, #32]
        stp     x25, x26, [x9, #48]
        stp     x27, x28, [x9, #64]
        stp     x29, x30, [x9, #80]
        mov     x10, sp
        mrs     x11, tpidr_el0
        stp     x10, x11, [x9, #96]
        clrex
        movz    x0, #DATA, lsl #16
        ldr     x1, [x0, #248]
        mov     sp, x1
        ldr     x1, [x0, #256]
        msr     nzcv, x1
        ldp     x2, x3, [x0, #16]
        ldp     x4, x5, [x0, #32]
        ldp     x6, x7, [x0, #48]
        ldp     x8, x9, [x0, #64]
        ldp     x10, x11, [x0, #80]
        ldp     x12, x13, [x0, #96]
        ldp     x14, x15, [x0, #112]
        ldp     x16, x17, [x0, #128]
        ldp     x18, x19, [x0, #144]
        ldp     x20, x21, [x0, #160]
        ldp     x22, x23, [x0, #176]
        ldp     x24, x25, [x0, #192]
        ldp     x26, x27, [x0, #208]
        ldp     x28, x29, [x0, #224]
        ldr     x30, [x0, #240]
        ldp     x0, x1, [x0]
loader_end:

// Reached by the branch after the block: stores X0..X30, SP and NZCV to the output area, restores
// the host state and returns 0 to the C caller of the loader.
        .balign 4
epi_start:
        msr     tpidr_el0, x0
        movz    x0, #DATA, lsl #16
        add     x0, x0, #0x200
        stp     x1, x2, [x0, #8]
        stp     x3, x4, [x0, #24]
        stp     x5, x6, [x0, #40]
        stp     x7, x8, [x0, #56]
        stp     x9, x10, [x0, #72]
        stp     x11, x12, [x0, #88]
        stp     x13, x14, [x0, #104]
        stp     x15, x16, [x0, #120]
        stp     x17, x18, [x0, #136]
        stp     x19, x20, [x0, #152]
        stp     x21, x22, [x0, #168]
        stp     x23, x24, [x0, #184]
        stp     x25, x26, [x0, #200]
        stp     x27, x28, [x0, #216]
        stp     x29, x30, [x0, #232]
        mrs     x1, tpidr_el0
        str     x1, [x0]
        mov     x1, sp
        str     x1, [x0, #248]
        mrs     x1, nzcv
        str     x1, [x0, #256]
        movz    x9, #DATA, lsl #16
        add     x9, x9, #0x400
        ldp     x10, x11, [x9, #96]
        mov     sp, x10
        msr     tpidr_el0, x11
        ldp     x19, x20, [x9, #0]
        ldp     x21, x22, [x9, #16]
        ldp     x23, x24, [x9, #32]
        ldp     x25, x26, [x9, #48]
        ldp     x27, x28, [x9, #64]
        ldp     x29, x30, [x9, #80]
        mov     w0, #0
        ret
epi_end:

// The signal handler resumes here after a fault in the block: restore the host state, return 1.
        .balign 4
fault_exit:
        movz    x9, #DATA, lsl #16
        add     x9, x9, #0x400
        ldp     x10, x11, [x9, #96]
        mov     sp, x10
        msr     tpidr_el0, x11
        ldp     x19, x20, [x9, #0]
        ldp     x21, x22, [x9, #16]
        ldp     x23, x24, [x9, #32]
        ldp     x25, x26, [x9, #48]
        ldp     x27, x28, [x9, #64]
        ldp     x29, x30, [x9, #80]
        mov     w0, #1
        ret

        .section .note.GNU-stack, "", %progbits

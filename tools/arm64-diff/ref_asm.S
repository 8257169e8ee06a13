// arm64-diff reference harness: the loader, epilogue and fault exit (see ref.c and README.md).
// All three address the harness's data page through absolute MOVZ constants, so they can be copied
// to the fixed code page. Layout (must match DiffLayout.cs):
//   DATA  = 0x11000000: input state (X0..X30, SP, NZCV) at +0, output at +0x200, host save area at +0x400,
//   input V0..V31 at +0x600, output V0..V31 at +0x800.

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
        stp     d8, d9, [x9, #112]
        stp     d10, d11, [x9, #128]
        stp     d12, d13, [x9, #144]
        stp     d14, d15, [x9, #160]
        add     x9, x9, #0x200
        ldp     q0, q1, [x9, #0]
        ldp     q2, q3, [x9, #32]
        ldp     q4, q5, [x9, #64]
        ldp     q6, q7, [x9, #96]
        ldp     q8, q9, [x9, #128]
        ldp     q10, q11, [x9, #160]
        ldp     q12, q13, [x9, #192]
        ldp     q14, q15, [x9, #224]
        ldp     q16, q17, [x9, #256]
        ldp     q18, q19, [x9, #288]
        ldp     q20, q21, [x9, #320]
        ldp     q22, q23, [x9, #352]
        ldp     q24, q25, [x9, #384]
        ldp     q26, q27, [x9, #416]
        ldp     q28, q29, [x9, #448]
        ldp     q30, q31, [x9, #480]
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
        add     x0, x0, #0x600
        stp     q0, q1, [x0, #0]
        stp     q2, q3, [x0, #32]
        stp     q4, q5, [x0, #64]
        stp     q6, q7, [x0, #96]
        stp     q8, q9, [x0, #128]
        stp     q10, q11, [x0, #160]
        stp     q12, q13, [x0, #192]
        stp     q14, q15, [x0, #224]
        stp     q16, q17, [x0, #256]
        stp     q18, q19, [x0, #288]
        stp     q20, q21, [x0, #320]
        stp     q22, q23, [x0, #352]
        stp     q24, q25, [x0, #384]
        stp     q26, q27, [x0, #416]
        stp     q28, q29, [x0, #448]
        stp     q30, q31, [x0, #480]
        movz    x9, #DATA, lsl #16
        add     x9, x9, #0x400
        ldp     d8, d9, [x9, #112]
        ldp     d10, d11, [x9, #128]
        ldp     d12, d13, [x9, #144]
        ldp     d14, d15, [x9, #160]
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
        ldp     d8, d9, [x9, #112]
        ldp     d10, d11, [x9, #128]
        ldp     d12, d13, [x9, #144]
        ldp     d14, d15, [x9, #160]
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

// Pointer authentication and BTI guest (pauth.c): the exception vectors, a protected call that comes back
// with -1 when the callee takes a synchronous exception, code snippets copied to guarded and unguarded
// pages, and the signed-return functions.
    .text
    .balign 2048
    .global pauth_vectors
pauth_vectors:
    .irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 0x80
    b       sync_entry
    .endr

// Any exception: record ESR, FAR, ELR, SPSR in fault_info, return to fault_return at EL1h with DAIF masked.
sync_entry:
    mrs     x0, esr_el1
    mrs     x1, far_el1
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    adr     x4, fault_info
    stp     x0, x1, [x4]
    stp     x2, x3, [x4, #16]
    adr     x5, fault_return
    msr     elr_el1, x5
    mov     x5, #0x3c5
    msr     spsr_el1, x5
    eret

// u64 protected_call(u64 fn, u64 a0, u64 a1, u64 a2): fn(a0, a1, a2) through BLR (BTYPE 10); -1 with
// fault_info set when it took an exception.
    .global protected_call
protected_call:
    adr     x9, jmpbuf
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    stp     x29, x30, [x9, #80]
    mov     x10, sp
    str     x10, [x9, #96]
    mov     x16, x0
    mov     x0, x1
    mov     x1, x2
    mov     x2, x3
    blr     x16
    adr     x9, jmpbuf
    ldp     x29, x30, [x9, #80]
    ret
fault_return:
    adr     x9, jmpbuf
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldp     x29, x30, [x9, #80]
    ldr     x10, [x9, #96]
    mov     sp, x10
    mov     x0, #-1
    ret

// u64 exec_slot(u64 slot, u64 x0, u64 x1): runs the instruction at slot (followed by RET) with X0, X1.
    .global exec_slot
exec_slot:
    mov     x16, x0
    mov     x0, x1
    mov     x1, x2
    br      x16

// u64 signed_return(u64 corrupt): PACIASP ... AUTIASP; RET, with bit 50 of the signed LR flipped when corrupt != 0.
    .global signed_return
signed_return:
    paciasp
    stp     x29, x30, [sp, #-16]!
    cbz     x0, 1f
    ldr     x1, [sp, #8]
    eor     x1, x1, #(1 << 50)
    str     x1, [sp, #8]
1:  ldp     x29, x30, [sp], #16
    autiasp
    mov     x0, #7
    ret

// u64 signed_retab(u64 corrupt): PACIBSP ... RETAB.
    .global signed_retab
signed_retab:
    pacibsp
    cbz     x0, 1f
    eor     x30, x30, #(1 << 49)
1:  mov     x0, #8
    retab

// u64 braa_call(u64 target, u64 modifier, u64 corrupt): signs target with PACIA under modifier, then BLRAA.
    .global braa_call
braa_call:
    stp     x29, x30, [sp, #-16]!
    pacia   x0, x1
    cbz     x2, 1f
    eor     x0, x0, #(1 << 52)
1:  blraa   x0, x1
    ldp     x29, x30, [sp], #16
    ret

// u64 ldraa_load(u64 address, u64 corrupt): PACDZA, then LDRAA X0, [X0, #8]! and the written-back base in x1 (kept in ldraa_base).
    .global ldraa_load
ldraa_load:
    pacdza  x0
    cbz     x1, 1f
    eor     x0, x0, #(1 << 45)
1:  ldraa   x2, [x0, #8]!
    adr     x3, ldraa_base
    str     x0, [x3]
    mov     x0, x2
    ret

// u64 branch_via(u64 target, u64 use_x16): BR X5 or BR X16 to target (from wherever this is copied).
    .global snip_branch, snip_branch_end
snip_branch:
    bti     c
    mov     x5, x0
    mov     x16, x0
    cbnz    x1, 1f
    br      x5
1:  br      x16
snip_branch_end:

// Landing pads: each returns its number in x0.
    .global snip_pads, snip_pads_end
snip_pads:
    bti     c               // +0
    mov     x0, #1
    ret
    bti     j               // +12
    mov     x0, #2
    ret
    bti     jc              // +24
    mov     x0, #3
    ret
    paciasp                 // +36
    mov     x0, #4
    autiasp
    ret
    mov     x0, #5          // +52: no landing pad
    ret
    bti                     // +60: BTI with no target
    mov     x0, #6
    ret
snip_pads_end:

    .data
    .balign 16
    .global fault_info, ldraa_base
fault_info: .quad 0, 0, 0, 0
ldraa_base: .quad 0
jmpbuf:     .fill 14, 8, 0

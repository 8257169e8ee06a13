/* skipstep.elf's #DB and #UD handlers (assembly, no C frame). */
    .text
/* #DB: count, record the saved EIP, clear TF and set RF in the saved EFLAGS. */
    .globl db_entry
db_entry:
    push %eax
    incl db_count
    mov 4(%esp), %eax
    mov %eax, db_eip
    andl $~0x100, 12(%esp)
    orl $0x10000, 12(%esp)
    pop %eax
    iret

/* #UD: count, record the saved EIP, skip the 2-byte instruction, clear TF. */
    .globl ud_entry
ud_entry:
    push %eax
    incl ud_count
    mov 4(%esp), %eax
    mov %eax, ud_eip
    addl $2, 4(%esp)
    andl $~0x100, 12(%esp)
    pop %eax
    iret


/* Trap-class exceptions raised by the hypervisor's instruction emulator under TF (issue #16, KVM's
   x86_emulate_instruction): KVM writes RIP and RFLAGS and single-steps when the emulated instruction
   raised no exception or a trap-class one (#BP, #OF). The single-step #DB is queued after the trap and,
   both being benign exceptions, replaces it: the guest takes one #DB past the instruction and never sees
   the #BP or #OF. A fault-class exception (#UD) is delivered alone, at the instruction, without a #DB.
   INTO and INT3 reach the emulator through KVM's forced emulation prefix (ud2; .ascii "kvm"), so this
   guest runs with softkvm run --arch x86_64 --x86-force-emulation-prefix. PASS/FAIL lines on COM1,
   isa-debug-exit 0 = all passed. */
#include "lib.h"

void isr_db(void);
void isr_bp(void);
void isr_of(void);
void isr_ud(void);

#define SET_TF "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"
#define FEP ".byte 0x0f, 0x0b, 0x6b, 0x76, 0x6d\n\t" /* KVM_FEP: ud2; .ascii "kvm" */
#define SET_OF "movb $0x7f, %%al\n\taddb $1, %%al\n\t"   /* 0x7f + 1 overflows: OF = 1 */

static volatile u32 db_count, db_eip, db_dr6;
static volatile u32 bp_count, bp_eip;
static volatile u32 of_count, of_eip;
static volatile u32 ud_count, ud_eip;

void on_db(u32 *f)
{
    u32 dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    db_count++;
    db_eip = f[1];
    db_dr6 = dr6;
    __asm__ volatile("mov %0, %%dr6" : : "r"(0u));
    f[3] &= ~0x100u;
}

void on_bp(u32 *f)
{
    bp_count++;
    bp_eip = f[1];
}

void on_of(u32 *f)
{
    of_count++;
    of_eip = f[1];
}

void on_ud(u32 *f)
{
    ud_count++;
    ud_eip = f[1];
    f[1] += 2;
    f[3] &= ~0x100u;
}

static void reset(void)
{
    db_count = bp_count = of_count = ud_count = 0;
    db_eip = bp_eip = of_eip = ud_eip = db_dr6 = 0;
}

static int one_step_past(u32 next)
{
    return db_count == 1 && db_eip == next && (db_dr6 & 0x4000) && bp_count == 0 && of_count == 0 && ud_count == 0;
}

/* INTO with OF=1 and TF=1: #OF (a trap) retires INTO; the single-step #DB replaces it. */
static int forced_into_overflow_with_tf(void)
{
    u32 next;
    reset();
    __asm__ volatile("movl $1f, %0\n\t" SET_OF SET_TF FEP "into\n1:\tnop" : "=&r"(next) : : "eax", "memory", "cc");
    return one_step_past(next);
}

/* INTO with OF=0 and TF=1: no exception; it retires and single-steps. */
static int forced_into_no_overflow_with_tf(void)
{
    u32 next;
    reset();
    __asm__ volatile("movl $1f, %0\n\txorl %%eax, %%eax\n\t" SET_TF FEP "into\n1:\tnop" : "=&r"(next) : : "eax", "memory", "cc");
    return one_step_past(next);
}

/* INT3 with TF=1: #BP (a trap) retires INT3; the single-step #DB replaces it. */
static int forced_int3_with_tf(void)
{
    u32 next;
    reset();
    __asm__ volatile("movl $1f, %0\n\t" SET_TF FEP "int3\n1:\tnop" : "=&r"(next) : : "memory", "cc");
    return one_step_past(next);
}

/* INT3 without TF: the #BP, past the INT3. */
static int forced_int3(void)
{
    u32 next;
    reset();
    __asm__ volatile("movl $1f, %0\n\t" FEP "int3\n1:\tnop" : "=&r"(next) : : "memory", "cc");
    return bp_count == 1 && bp_eip == next && db_count == 0;
}

/* INTO with OF=1 without TF: the #OF, past the INTO. */
static int forced_into_overflow(void)
{
    u32 next;
    reset();
    __asm__ volatile("movl $1f, %0\n\t" SET_OF FEP "into\n1:\tnop" : "=&r"(next) : : "eax", "memory", "cc");
    return of_count == 1 && of_eip == next && db_count == 0;
}

/* UD2 with TF=1: #UD is a fault, delivered alone at the emulated UD2 (past the prefix), no #DB. */
static int forced_ud2_with_tf(void)
{
    u32 at;
    reset();
    __asm__ volatile("movl $1f, %0\n\t" SET_TF FEP "1:\tud2\n\tnop" : "=&r"(at) : : "memory", "cc");
    return ud_count == 1 && ud_eip == at && db_count == 0;
}

int main(u32 info)
{
    (void)info;
    gdt_load();
    idt_init();
    idt_set(1, isr_db);
    idt_set(3, isr_bp);
    idt_set(4, isr_of);
    idt_set(6, isr_ud);
    idt_load();

    int failures = 0;
    failures += check("forced INTO, OF=1, TF=1: one #DB past it, no #OF", forced_into_overflow_with_tf());
    failures += check("forced INTO, OF=0, TF=1: one #DB past it", forced_into_no_overflow_with_tf());
    failures += check("forced INT3, TF=1: one #DB past it, no #BP", forced_int3_with_tf());
    failures += check("forced INT3: one #BP past it", forced_int3());
    failures += check("forced INTO, OF=1: one #OF past it", forced_into_overflow());
    failures += check("forced UD2, TF=1: one #UD at it, no #DB", forced_ud2_with_tf());
    puts(failures == 0 ? "ALL PASS\n" : "SOME FAILED\n");
    return failures;
}

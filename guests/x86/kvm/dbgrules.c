/* The x86 debug architecture as the SDM defines it (Vol. 3 6.8.3, 17.2, 17.3; issue #23 point 3), each
   check written down from the rules, not from an emulator's output (QEMU gets several of these wrong):
   - One #DB reports every trap-class condition of an instruction: DR6.BS together with B0-B3 for a
     single-step and a data breakpoint, and the code breakpoint matching the next instruction ("the debug
     exception may report one or both"), which still faults when that instruction starts (no RF).
   - DR6.B0-B3 are rewritten by each #DB; BS and BD are only ever set by the processor.
   - DR7.GD: MOV to or from a debug register faults with DR6.BD, at the MOV, also inside a MOV SS shadow,
     and entering the #DB handler clears DR7.GD.
   - MOV SS / POP SS: its single-step is suppressed and its data-breakpoint #DB is held to the boundary
     after the next instruction (6.8.3). There: a fault drops it; INT3 and INT n enter their handler and
     the #DB comes before the handler's first instruction (the CVE-2018-8897 cases); ICEBP's own #DB is
     the only one and reports no breakpoint; a code breakpoint on that instruction is inhibited; anything
     else reports it with its own conditions, also when the hypervisor completed the instruction (an OUT
     to the VMM, an emulated MMIO load), where it merges with the hypervisor's single-step #DB.
   Each scenario logs the events it takes (vector, EIP, DR6 at entry) and compares the log with the
   sequence the rules give. PASS/FAIL lines on COM1, isa-debug-exit 0 = all passed. */
#include "lib.h"

void isr_db(void);
void isr_bp(void);
void isr_ud(void);
void isr_80(void);

#define TF 0x100u
#define RF 0x10000u
#define DR6_BD 0x2000u
#define DR6_BS 0x4000u
#define DR7_GD 0x2000u
#define SET_TF "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"

struct event { u32 vector, eip, dr6; };
static volatile struct event events[8];
static volatile u32 count;
static volatile u32 dr7_in_handler;
volatile u16 ss_var;            /* the SS selector, watched by DR0 */
volatile u32 ss_slot;           /* the SS selector as a stack slot for POP SS */
volatile u32 word;

static inline void set_dr(int n, u32 v)
{
    switch (n)
    {
    case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
    case 6: __asm__ volatile("mov %0, %%dr6" : : "r"(v)); break;
    default: __asm__ volatile("mov %0, %%dr7" : : "r"(v)); break;
    }
}

static inline u32 get_dr(int n)
{
    u32 v;
    if (n == 6)
        __asm__ volatile("mov %%dr6, %0" : "=r"(v));
    else
        __asm__ volatile("mov %%dr7, %0" : "=r"(v));
    return v;
}

/* Every #DB, #BP, #UD and INT $0x80 lands here. A #DB handler reads DR6 and clears it, stops a single-step
   (TF off in the frame) and sets RF after a code-breakpoint fault (B0-B3 without BS) so that the
   instruction runs; #UD skips the 2-byte UD2. */
void on_event(u32 vector, u32 *f)
{
    u32 dr6 = 0, eip = f[0];
    if (vector == 1)
    {
        dr6 = get_dr(6);
        dr7_in_handler = get_dr(7);
        set_dr(6, 0);
        if ((dr6 & 0xF) && !(dr6 & DR6_BS))
            f[2] |= RF;
        f[2] &= ~TF;
    }
    else if (vector == 6)
    {
        f[0] += 2;
    }

    if (count < 8)
    {
        events[count].vector = vector;
        events[count].eip = eip;
        events[count].dr6 = dr6 & 0xE00F;
    }
    count++;
}

static void reset(void)
{
    set_dr(7, 0x400);
    set_dr(6, 0);
    count = 0;
    for (int i = 0; i < 8; i++)
        events[i].vector = events[i].eip = events[i].dr6 = 0;
}

static int event(u32 i, u32 vector, u32 eip, u32 dr6)
{
    if (count <= i || events[i].vector != vector || events[i].eip != eip || events[i].dr6 != dr6)
    {
        puts("  event ");
        putdec(i);
        puts(": expected vector ");
        putdec(vector);
        puts(" eip ");
        puthex(eip);
        puts(" dr6 ");
        puthex(dr6);
        puts(", got ");
        if (count <= i)
        {
            puts("none\n");
            return 0;
        }
        puts("vector ");
        putdec(events[i].vector);
        puts(" eip ");
        puthex(events[i].eip);
        puts(" dr6 ");
        puthex(events[i].dr6);
        puts("\n");
        return 0;
    }
    return 1;
}

static int events_are(u32 n)
{
    if (count != n)
    {
        puts("  ");
        putdec(count);
        puts(" events, expected ");
        putdec(n);
        puts("\n");
        return 0;
    }
    return 1;
}

/* DR0: a 2-byte read/write breakpoint on address a (L0, RW0 = 11, LEN0 = 01). */
static void watch_dr0(u32 a, u32 len_code)
{
    set_dr(0, a);
    set_dr(7, 0x400 | 1 | (3u << 16) | (len_code << 18));
}

/* DR1: an instruction breakpoint (L1, RW1 = 00, LEN1 = 00), added to what DR7 has. */
static void code_bp_dr1(u32 a)
{
    set_dr(1, a);
    set_dr(7, get_dr(7) | 4);
}

/* The scenarios' code, with a label at each address an event must show. Each is called and returns. */
__asm__(
    ".text\n"
    "seq_step_data:\n\t" "pushfl\n\torl $0x100, (%esp)\n\tpopfl\n\t" "movl $1, word\n"
    "seq_step_data_after:\n\tret\n"
    "seq_step_code:\n\t" "pushfl\n\torl $0x100, (%esp)\n\tpopfl\n\t" "nop\n"
    "seq_step_code_bp:\n\tnop\n\tret\n"
    "seq_bs_kept:\n"
    "seq_bs_kept_bp:\n\tnop\n\tret\n"
    "seq_gd:\n"
    "seq_gd_mov:\n\tmov %dr0, %eax\n\tret\n"
    "seq_gd_movss:\n\tmovw ss_var, %ss\n"
    "seq_gd_movss_mov:\n\tmov %dr7, %eax\n\tret\n"
    "seq_movss_nop:\n\tmovw ss_var, %ss\n\tnop\n"
    "seq_movss_nop_after:\n\tret\n"
    "seq_movss_tf:\n\t" "pushfl\n\torl $0x100, (%esp)\n\tpopfl\n\t" "movw ss_var, %ss\n\tnop\n"
    "seq_movss_tf_after:\n\tret\n"
    "seq_popss:\n\tmovl %esp, %ebx\n\tmovl $ss_slot, %esp\n\tpopl %ss\n\tmovl %ebx, %esp\n"
    "seq_popss_after:\n\tret\n"
    "seq_movss_int3:\n\tmovw ss_var, %ss\n\tint3\n"
    "seq_movss_int3_after:\n\tret\n"
    "seq_movss_int80:\n\tmovw ss_var, %ss\n\tint $0x80\n"
    "seq_movss_int80_after:\n\tret\n"
    "seq_movss_icebp:\n\tmovw ss_var, %ss\n\t.byte 0xf1\n"
    "seq_movss_icebp_after:\n\tret\n"
    "seq_movss_ud2:\n\tmovw ss_var, %ss\n"
    "seq_movss_ud2_at:\n\tud2\n\tret\n"
    "seq_movss_bp:\n\tmovw ss_var, %ss\n"
    "seq_movss_bp_insn:\n\tnop\n"
    "seq_movss_bp_after:\n\tret\n"
    "seq_movss_out:\n\tmovw $0x3ff, %dx\n\tmovw ss_var, %ss\n\toutb %al, %dx\n"
    "seq_movss_out_after:\n\tret\n"
    "seq_movss_tf_out:\n\tmovw $0x3ff, %dx\n\t" "pushfl\n\torl $0x100, (%esp)\n\tpopfl\n\t" "movw ss_var, %ss\n\toutb %al, %dx\n"
    "seq_movss_tf_out_after:\n\tret\n"
    "seq_movss_mmio:\n\tmovw ss_var, %ss\n\tmovl 0xfee00020, %eax\n"
    "seq_movss_mmio_after:\n\tret\n");

#define SEQ(name) extern char seq_##name[]
SEQ(step_data); SEQ(step_data_after); SEQ(step_code); SEQ(step_code_bp); SEQ(bs_kept); SEQ(bs_kept_bp);
SEQ(gd); SEQ(gd_mov); SEQ(gd_movss); SEQ(gd_movss_mov); SEQ(movss_nop); SEQ(movss_nop_after);
SEQ(movss_tf); SEQ(movss_tf_after); SEQ(popss); SEQ(popss_after); SEQ(movss_int3); SEQ(movss_int3_after);
SEQ(movss_int80); SEQ(movss_int80_after); SEQ(movss_icebp); SEQ(movss_icebp_after); SEQ(movss_ud2);
SEQ(movss_ud2_at); SEQ(movss_bp); SEQ(movss_bp_insn); SEQ(movss_bp_after); SEQ(movss_out);
SEQ(movss_out_after); SEQ(movss_tf_out); SEQ(movss_tf_out_after); SEQ(movss_mmio); SEQ(movss_mmio_after);

static void run(char *seq)
{
    __asm__ volatile("call *%0" : : "r"(seq) : "eax", "ebx", "ecx", "edx", "memory", "cc");
}

#define A(label) ((u32)seq_##label)

/* A single-step and a data breakpoint on one instruction: one #DB past it with BS and B0. */
static int step_and_data_breakpoint(void)
{
    reset();
    set_dr(0, (u32)&word);
    set_dr(7, 0x400 | 1 | (1u << 16) | (3u << 18)); /* write, 4 bytes */
    run(seq_step_data);
    return events_are(1) && event(0, 1, A(step_data_after), DR6_BS | 1);
}

/* A single-step onto a breakpointed instruction: the step's #DB reports B1 with BS; the breakpoint
   still faults when the instruction starts (the handler did not set RF), with B1 alone. */
static int step_into_code_breakpoint(void)
{
    reset();
    code_bp_dr1(A(step_code_bp));
    run(seq_step_code);
    return events_are(2) && event(0, 1, A(step_code_bp), DR6_BS | 2) && event(1, 1, A(step_code_bp), 2);
}

/* A code breakpoint rewrites B0-B3 (B1 goes, B0 comes) and leaves the BS software set. (The handler, seeing
   BS, takes it for a single-step and sets no RF: the breakpoint faults again, now with B0 alone.) */
static int code_breakpoint_keeps_bs(void)
{
    reset();
    set_dr(0, A(bs_kept_bp));
    set_dr(7, 0x400 | 1);
    set_dr(6, DR6_BS | 2);
    run(seq_bs_kept);
    return events_are(2) && event(0, 1, A(bs_kept_bp), DR6_BS | 1) && event(1, 1, A(bs_kept_bp), 1);
}

/* DR7.GD: MOV from DR0 faults with BD at the MOV; the handler sees DR7.GD clear, the MOV then runs. */
static int general_detect(void)
{
    reset();
    set_dr(0, 0x1234);
    set_dr(7, 0x400 | DR7_GD);
    run(seq_gd);
    return events_are(1) && event(0, 1, A(gd_mov), DR6_BD) && (dr7_in_handler & DR7_GD) == 0 && (get_dr(7) & DR7_GD) == 0;
}

/* General detect is not held by a MOV SS shadow, and as a fault it drops the MOV SS's data breakpoint. */
static int general_detect_in_mov_ss_shadow(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    set_dr(7, get_dr(7) | DR7_GD);
    run(seq_gd_movss);
    return events_are(1) && event(0, 1, A(gd_movss_mov), DR6_BD);
}

/* MOV SS reads a watched word: the #DB comes after the next instruction. */
static int mov_ss_then_nop(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_nop);
    return events_are(1) && event(0, 1, A(movss_nop_after), 1);
}

/* ... with TF: the MOV SS's own single-step is suppressed; one #DB after the next instruction, BS and B0. */
static int mov_ss_with_tf(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_tf);
    return events_are(1) && event(0, 1, A(movss_tf_after), DR6_BS | 1);
}

/* POP SS likewise. */
static int pop_ss_then_mov(void)
{
    reset();
    watch_dr0((u32)&ss_slot, 1);
    run(seq_popss);
    return events_are(1) && event(0, 1, A(popss_after), 1);
}

/* MOV SS; INT3: the #BP handler is entered and the #DB comes before its first instruction. */
static int mov_ss_then_int3(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_int3);
    return events_are(2) && event(0, 1, (u32)isr_bp, 1) && event(1, 3, A(movss_int3_after), 0);
}

/* MOV SS; INT $0x80 likewise. */
static int mov_ss_then_int_n(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_int80);
    return events_are(2) && event(0, 1, (u32)isr_80, 1) && event(1, 0x80, A(movss_int80_after), 0);
}

/* MOV SS; ICEBP: one #DB, ICEBP's, past it, reporting no breakpoint. */
static int mov_ss_then_icebp(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_icebp);
    return events_are(1) && event(0, 1, A(movss_icebp_after), 0);
}

/* MOV SS; UD2: the fault drops the held #DB. */
static int mov_ss_then_fault(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_ud2);
    return events_are(1) && event(0, 6, A(movss_ud2_at), 0);
}

/* MOV SS; a breakpointed NOP: the code breakpoint is inhibited in the shadow; one #DB after it, B0 only. */
static int mov_ss_then_code_breakpoint(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    code_bp_dr1(A(movss_bp_insn));
    run(seq_movss_bp);
    return events_are(1) && event(0, 1, A(movss_bp_after), 1);
}

/* MOV SS; OUT to the VMM's 16550A scratch register: after the hypervisor completes and skips the OUT, the held #DB. */
static int mov_ss_then_out(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_out);
    return events_are(1) && event(0, 1, A(movss_out_after), 1);
}

/* ... with TF: the hypervisor's single-step #DB and the held breakpoint are one #DB, BS and B0. */
static int mov_ss_with_tf_then_out(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_tf_out);
    return events_are(1) && event(0, 1, A(movss_tf_out_after), DR6_BS | 1);
}

/* MOV SS; a local-APIC load the hypervisor emulates: the held #DB after it. */
static int mov_ss_then_emulated_mmio(void)
{
    reset();
    watch_dr0((u32)&ss_var, 1);
    run(seq_movss_mmio);
    return events_are(1) && event(0, 1, A(movss_mmio_after), 1);
}

int main(u32 info)
{
    (void)info;
    gdt_load();
    idt_init();
    idt_set(1, isr_db);
    idt_set(3, isr_bp);
    idt_set(6, isr_ud);
    idt_set(0x80, isr_80);
    idt_load();
    __asm__ volatile("movw %%ss, %0" : "=m"(ss_var));
    ss_slot = ss_var;

    int failures = 0;
    failures += check("single-step and data breakpoint: one #DB, BS with B0", step_and_data_breakpoint());
    failures += check("single-step onto a code breakpoint: BS with B1, then the breakpoint's fault", step_into_code_breakpoint());
    failures += check("code breakpoint rewrites B0-B3 and keeps BS", code_breakpoint_keeps_bs());
    failures += check("DR7.GD: #DB with BD at MOV DR, GD clear in the handler", general_detect());
    failures += check("DR7.GD inside a MOV SS shadow: BD, the held #DB dropped", general_detect_in_mov_ss_shadow());
    failures += check("MOV SS data breakpoint: #DB after the next instruction", mov_ss_then_nop());
    failures += check("MOV SS with TF: one #DB after the next instruction, BS with B0", mov_ss_with_tf());
    failures += check("POP SS data breakpoint: #DB after the next instruction", pop_ss_then_mov());
    failures += check("MOV SS; INT3: #DB before the #BP handler's first instruction", mov_ss_then_int3());
    failures += check("MOV SS; INT n: #DB before the handler's first instruction", mov_ss_then_int_n());
    failures += check("MOV SS; ICEBP: ICEBP's #DB only, no breakpoint reported", mov_ss_then_icebp());
    failures += check("MOV SS; UD2: #UD alone", mov_ss_then_fault());
    failures += check("MOV SS; code breakpoint: inhibited, one #DB with B0", mov_ss_then_code_breakpoint());
    failures += check("MOV SS; OUT to the VMM: the held #DB after it", mov_ss_then_out());
    failures += check("MOV SS with TF; OUT: one #DB, BS with B0", mov_ss_with_tf_then_out());
    failures += check("MOV SS; emulated MMIO load: the held #DB after it", mov_ss_then_emulated_mmio());
    puts(failures == 0 ? "ALL PASS\n" : "SOME FAILED\n");
    return failures;
}

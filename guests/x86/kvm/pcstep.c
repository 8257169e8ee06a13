/* The "Done when" scenarios of issue #8 on the real PC machine (softkvm run --arch x86_64, with a --disk
   so that a virtio-blk with its fast-MMIO doorbell exists): TF single-step over OUT (to a VMM device),
   CPUID, an emulated MMIO load (virtio MagicValue) and a fast-MMIO doorbell write (virtio-blk
   QueueNotify) - one #DB each at the next instruction; the interrupt shadow of STI and MOV SS over
   skipped instructions; MOVS from MMIO into a not-present page with TF=1 (one #PF at the MOVS with no
   #DB before it, then one retirement and one #DB after the handler maps the page); SYSCALL with
   EFER.SCE=0, TF=1 and RF=1 (one #UD, no #DB). PASS/FAIL lines on COM1, isa-debug-exit 0 = all passed. */
#include "lib.h"

void isr_db(void);
void isr_ud(void);
void isr_pf(void);
void isr_40(void);

#define SET_TF "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"
#define SCRATCH_PORT 0x3FF /* the 16550A's scratch register: a userspace device, an Io exit */
#define TEST_PAGE 0x00500000u
#define VECTOR 0x40

static volatile u32 db_count, db_eip[4], db_keep_tf;
static volatile u32 ud_count, ud_eip, ud_eflags;
static volatile u32 pf_count, pf_eip, pf_err, pf_cr2, pf_db_count;
static volatile u32 irq_count, irq_eip;
static u32 page_dir[1024] __attribute__((aligned(4096)));
static u32 page_table[1024] __attribute__((aligned(4096)));

void on_db(u32 *f)
{
    if (db_count < 4)
    {
        db_eip[db_count] = f[1];
    }

    db_count++;
    if (db_keep_tf)
    {
        db_keep_tf--;
    }
    else
    {
        f[3] &= ~0x100u;
    }
}

void on_ud(u32 *f)
{
    ud_count++;
    ud_eip = f[1];
    ud_eflags = f[3];
    f[1] += 2;
    f[3] &= ~0x100u;
}

void on_pf(u32 *f)
{
    u32 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    pf_count++;
    pf_eip = f[1];
    pf_err = f[0];
    pf_cr2 = cr2;
    pf_db_count = db_count;
    if ((cr2 & ~0xFFFu) != TEST_PAGE || pf_count > 1)
    {
        die("unexpected #PF");
    }

    page_table[(TEST_PAGE >> 12) & 1023] |= 1;
    __asm__ volatile("invlpg (%0)" : : "r"(cr2) : "memory");
}

void on_irq40(u32 *f)
{
    irq_count++;
    irq_eip = f[1];
    lapic_write(LAPIC_EOI, 0);
}

static void paging_on(void)
{
    for (u32 i = 0; i < 1024; i++)
    {
        page_dir[i] = (i << 22) | 0x83; /* 4 MiB, present, writable */
        page_table[i] = (0x00400000u + (i << 12)) | 3;
    }

    page_dir[1] = (u32)page_table | 3;
    page_table[(TEST_PAGE >> 12) & 1023] &= ~1u; /* the MOVS destination starts not present */
    __asm__ volatile("mov %%cr4, %%eax\n\torl $0x10, %%eax\n\tmov %%eax, %%cr4\n\t" /* PSE */
                     "mov %0, %%cr3\n\t"
                     "mov %%cr0, %%eax\n\torl $0x80000000, %%eax\n\tmov %%eax, %%cr0"
                     : : "r"(page_dir) : "eax", "memory");
}

static void self_ipi(void)
{
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, (1u << 18) | (1u << 14) | VECTOR); /* self, assert, fixed */
    lapic_wait_icr();
}

static int step_out(void)
{
    u32 next;
    db_count = 0;
    __asm__ volatile("movl $1f, %0\n\t" SET_TF "outb %%al, %%dx\n1:\tnop" : "=&r"(next) : "a"(0x5A), "d"(SCRATCH_PORT) : "memory", "cc");
    return db_count == 1 && db_eip[0] == next;
}

static int step_cpuid(void)
{
    u32 next, a = 0, b, c = 0, d;
    db_count = 0;
    __asm__ volatile("movl $1f, %4\n\t" SET_TF "cpuid\n1:\tnop"
                     : "+a"(a), "=b"(b), "+c"(c), "=d"(d), "=&S"(next) : : "memory", "cc");
    return db_count == 1 && db_eip[0] == next && b == 0x756E6547;
}

static int step_mmio_load(u32 console)
{
    u32 next, v;
    db_count = 0;
    __asm__ volatile("movl $1f, %1\n\t" SET_TF "movl (%2), %0\n1:\tnop"
                     : "=&a"(v), "=&r"(next) : "r"(console + VIRTIO_MAGIC) : "memory", "cc");
    return db_count == 1 && db_eip[0] == next && v == 0x74726976;
}

static int step_doorbell(u32 blk)
{
    u32 next;
    db_count = 0;
    __asm__ volatile("movl $1f, %0\n\t" SET_TF "movl %%eax, (%1)\n1:\tnop"
                     : "=&r"(next) : "r"(blk + VIRTIO_QUEUE_NOTIFY), "a"(0) : "memory", "cc");
    return db_count == 1 && db_eip[0] == next;
}

/* STI with TF=1: the single-step #DB after STI is not blocked by the STI shadow (SDM: the shadow blocks
   maskable interrupts only; its delivery ends the shadow). The handler keeps TF once, so the skipped OUT
   single-steps too: exactly two #DBs, at the OUT and after it. */
static int step_sti_out(void)
{
    u32 at_out, next;
    db_count = 0;
    db_keep_tf = 1;
    __asm__ volatile("cli\n\tmovl $1f, %0\n\tmovl $2f, %1\n\t" SET_TF "sti\n1:\toutb %%al, %%dx\n2:\tnop\n\tcli"
                     : "=&r"(at_out), "=&r"(next) : "a"(0x5A), "d"(SCRATCH_PORT) : "memory", "cc");
    db_keep_tf = 0;
    return db_count == 2 && db_eip[0] == at_out && db_eip[1] == next;
}

/* MOV SS with TF=1: the single-step #DB after MOV SS is suppressed; the skipped CPUID retires with TF
   set, so exactly one #DB, after the CPUID. */
static int step_movss_cpuid(void)
{
    u32 next, a = 0, b, c = 0, d;
    db_count = 0;
    __asm__ volatile("movl $1f, %4\n\tmov %%ss, %%di\n\t" SET_TF "mov %%di, %%ss\n\tcpuid\n1:\tnop"
                     : "+a"(a), "=b"(b), "+c"(c), "=d"(d), "=&S"(next) : : "edi", "memory", "cc");
    return db_count == 1 && db_eip[0] == next;
}

/* A pending interrupt with IF=0, then STI; OUT (skipped): the interrupt comes after the OUT, not inside
   the STI shadow and not one instruction late. */
static int shadow_sti_out(void)
{
    u32 next;
    irq_count = 0;
    __asm__ volatile("cli" ::: "memory");
    self_ipi();
    __asm__ volatile("movl $1f, %0\n\tsti\n\toutb %%al, %%dx\n1:\tnop\n\tcli" : "=&r"(next) : "a"(0x5A), "d"(SCRATCH_PORT) : "memory", "cc");
    return irq_count == 1 && irq_eip == next;
}

/* The same over the fast-MMIO doorbell (the skip without instruction length must clear the shadow too). */
static int shadow_sti_doorbell(u32 blk)
{
    u32 next;
    irq_count = 0;
    __asm__ volatile("cli" ::: "memory");
    self_ipi();
    __asm__ volatile("movl $1f, %0\n\tsti\n\tmovl %%eax, (%1)\n1:\tnop\n\tcli"
                     : "=&r"(next) : "r"(blk + VIRTIO_QUEUE_NOTIFY), "a"(0) : "memory", "cc");
    return irq_count == 1 && irq_eip == next;
}

/* STI; MOV SS; CPUID with an interrupt pending: blocked after STI, blocked after MOV SS, taken after the
   skipped CPUID. */
static int shadow_movss_cpuid(void)
{
    u32 next, a = 0, b, c = 0, d;
    irq_count = 0;
    __asm__ volatile("cli" ::: "memory");
    self_ipi();
    __asm__ volatile("movl $1f, %4\n\tmov %%ss, %%di\n\tsti\n\tmov %%di, %%ss\n\tcpuid\n1:\tnop\n\tcli"
                     : "+a"(a), "=b"(b), "+c"(c), "=d"(d), "=&S"(next) : : "edi", "memory", "cc");
    return irq_count == 1 && irq_eip == next;
}

/* MOVSD from MMIO into a not-present page with TF=1; returns the number of failed checks. */
static int movs_to_absent_page(u32 console)
{
    u32 at, next, esi = console + VIRTIO_MAGIC, edi = TEST_PAGE;
    db_count = 0;
    pf_count = 0;
    __asm__ volatile("movl $1f, %0\n\tmovl $2f, %1\n\t" SET_TF "1:\tmovsl\n2:\tnop"
                     : "=&r"(at), "=&r"(next), "+S"(esi), "+D"(edi) : : "memory", "cc");
    int failures = 0;
    failures += check("MOVS: one #PF", pf_count == 1);
    failures += check("MOVS: #PF at the MOVS, write to the absent page", pf_eip == at && pf_cr2 == TEST_PAGE && pf_err == 2);
    failures += check("MOVS: no #DB before the #PF", pf_db_count == 0);
    failures += check("MOVS: one retirement", esi == console + 4 && edi == TEST_PAGE + 4 && *(volatile u32 *)TEST_PAGE == 0x74726976);
    failures += check("MOVS: one #DB after the retirement", db_count == 1 && db_eip[0] == next);
    return failures;
}

/* SYSCALL with EFER.SCE=0 entered by IRET with TF=1 and RF=1: one #UD at the SYSCALL, no #DB, RFLAGS as before. */
static int syscall_ud(void)
{
    u32 at;
    db_count = 0;
    ud_count = 0;
    __asm__ volatile("movl $1f, %0\n\t"
                     "pushfl\n\torl $0x10100, (%%esp)\n\tpushl %%cs\n\tpushl $1f\n\tiret\n"
                     "1:\tsyscall\n\tnop" : "=&r"(at) : : "memory", "cc");
    return ud_count == 1 && ud_eip == at && db_count == 0 && (ud_eflags & 0x100);
}

int main(u32 info)
{
    gdt_load();
    idt_init();
    idt_set(1, isr_db);
    idt_set(6, isr_ud);
    idt_set(14, isr_pf);
    idt_set(VECTOR, isr_40);
    idt_load();
    lapic_enable();

    u32 console = virtio_find(info, 3);
    u32 blk = virtio_find(info, 2);
    int failures = 0;
    failures += check("virtio-console found on the command line", console != 0);
    failures += check("virtio-blk found on the command line", blk != 0);
    if (failures)
    {
        die("no virtio devices");
    }

    failures += check("step over OUT", step_out());
    failures += check("step over CPUID", step_cpuid());
    failures += check("step over MMIO load", step_mmio_load(console));
    failures += check("step over fast-MMIO doorbell", step_doorbell(blk));
    failures += check("STI shadow with TF: #DB at the OUT, then after it", step_sti_out());
    failures += check("MOV SS shadow with TF: one #DB after the CPUID", step_movss_cpuid());
    failures += check("STI shadow: interrupt after the OUT", shadow_sti_out());
    failures += check("STI shadow: interrupt after the doorbell", shadow_sti_doorbell(blk));
    failures += check("STI and MOV SS shadows: interrupt after the CPUID", shadow_movss_cpuid());
    paging_on();
    failures += movs_to_absent_page(console);
    failures += check("SYSCALL #UD with TF and RF", syscall_ud());
    puts(failures == 0 ? "ALL PASS\n" : "SOME FAILED\n");
    return failures;
}

/* Single-step over instructions the hypervisor completes: one #DB each, at the next instruction. */
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

volatile u32 db_count, db_eip, ud_count, ud_eip;
extern volatile u32 other_count;
void db_entry(void);
void ud_entry(void);
void other_entry(void);

#define MMIO_DATA 0xD0000000u
#define DOORBELL  0xD0001000u

static struct { u16 lo, sel; u8 zero, type; u16 hi; } __attribute__((packed)) idt[32];

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static void putc(char c) { outb(0x3F8, (u8)c); }

static void puts(const char *s) { while (*s) putc(*s++); }

static void set_gate(int v, void (*f)(void), u16 cs)
{
    idt[v].lo = (u16)(u32)f;
    idt[v].hi = (u16)((u32)f >> 16);
    idt[v].sel = cs;
    idt[v].zero = 0;
    idt[v].type = 0x8E;
}

static int check(const char *name, int ok)
{
    puts(ok ? "PASS " : "FAIL ");
    puts(name);
    putc('\n');
    return ok ? 0 : 1;
}

#define SET_TF "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"

static int step_out(void)
{
    u32 next;
    db_count = 0;
    __asm__ volatile("movl $1f, %0\n\t" SET_TF "outb %%al, $0x80\n1:\tnop" : "=&r"(next) : "a"(0) : "memory", "cc");
    return db_count == 1 && db_eip == next;
}

static int step_cpuid(void)
{
    u32 next, a = 0, b, c = 0, d;
    db_count = 0;
    __asm__ volatile("movl $1f, %4\n\t" SET_TF "cpuid\n1:\tnop"
                     : "+a"(a), "=b"(b), "+c"(c), "=d"(d), "=&S"(next) : : "memory", "cc");
    return db_count == 1 && db_eip == next && b == 0x756E6547;
}

static int step_mmio_load(void)
{
    u32 next, v;
    db_count = 0;
    __asm__ volatile("movl $1f, %1\n\t" SET_TF "movl (%2), %0\n1:\tnop"
                     : "=&a"(v), "=&r"(next) : "r"(MMIO_DATA) : "memory", "cc");
    return db_count == 1 && db_eip == next && v == 0x12345678;
}

static int step_doorbell(void)
{
    u32 next;
    db_count = 0;
    __asm__ volatile("movl $1f, %0\n\t" SET_TF "movl %%eax, (%1)\n1:\tnop"
                     : "=&r"(next) : "r"(DOORBELL), "a"(1) : "memory", "cc");
    return db_count == 1 && db_eip == next;
}

static int syscall_ud(void)
{
    u32 at;
    db_count = 0;
    ud_count = 0;
    __asm__ volatile("movl $1f, %0\n\t" SET_TF "1:\tsyscall\n\tnop" : "=&r"(at) : : "memory", "cc");
    return ud_count == 1 && ud_eip == at && db_count == 0;
}

int main(void)
{
    u16 cs;
    struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    for (int v = 0; v < 32; v++)
    {
        set_gate(v, other_entry, cs);
    }

    set_gate(1, db_entry, cs);
    set_gate(6, ud_entry, cs);
    __asm__ volatile("lidt %0" : : "m"(idtr));

    int failures = 0;
    failures += check("step over OUT", step_out());
    failures += check("step over CPUID", step_cpuid());
    failures += check("step over MMIO load", step_mmio_load());
    failures += check("step over fast-MMIO doorbell", step_doorbell());
    failures += check("SYSCALL #UD with TF", syscall_ud());
    failures += check("no other exception", other_count == 0);
    puts(failures == 0 ? "ALL PASS\n" : "SOME FAILED\n");
    return failures;
}

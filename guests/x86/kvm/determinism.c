/* The x86 guest of the deterministic-execution tests (docs/snapshots.md#deterministic-execution; softkvm run
   --arch x86_64 --smp 2..4 --deterministic): its output depends on timing, so it differs from run to run
   unless the run is deterministic. The BSP starts every AP by INIT and two SIPIs; every CPU then computes
   while its local APIC timer ticks (periodic, vector 0x40): at each tick the handler folds the iteration
   count and the TSC into the CPU's hash, and every third tick sends a fixed IPI (vector 0x41) to the next
   CPU, which folds it into its hash too. Then each CPU sleeps in HLT for four ticks and folds the TSC at
   each wake-up. The BSP prints every CPU's figures, a marker for the snapshot tests, the CMOS clock (its fixed
   epoch in a deterministic run), then a second phase of the same work. */
#include "lib.h"

#define AP_TRAMP 0x7000u
#define MAX_CPUS 4
#define PERIOD 300000u /* APIC bus cycles at 1 GHz, divide by 1: 300 us */
#define TICKS 12
#define SLEEPS 4
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3E0

extern char ap_tramp[], ap_tramp_end[];
void isr_40(void);
void isr_41(void);

struct result
{
    u64 busy_hash, sleep_hash;
    volatile u32 iterations, ticks, pings;
};

static struct result results[MAX_CPUS];
static volatile u32 cpus_online = 1, go[MAX_CPUS], done[MAX_CPUS];
static u32 cpus;

static u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

static u64 mix(u64 h, u64 v) { return (h ^ v) * 0x100000001b3ull; }

static u32 me(void) { return (lapic_read(LAPIC_ID) >> 24) % MAX_CPUS; }

void on_irq40(u32 *f) /* the local APIC timer */
{
    (void)f;
    struct result *r = &results[me()];
    r->ticks++;
    r->busy_hash = mix(mix(r->busy_hash, r->iterations), rdtsc());
    if (r->ticks % 3 == 0 && cpus > 1)
    {
        lapic_write(LAPIC_ICR_HI, ((me() + 1) % cpus) << 24);
        lapic_write(LAPIC_ICR_LO, (1u << 14) | 0x41); /* fixed, physical */
    }
    lapic_write(LAPIC_EOI, 0);
}

void on_irq41(u32 *f) /* a ping from the previous CPU */
{
    (void)f;
    struct result *r = &results[me()];
    r->pings++;
    r->busy_hash = mix(r->busy_hash, r->iterations * 7u);
    lapic_write(LAPIC_EOI, 0);
}

static void work(void)
{
    struct result *r = &results[me()];
    u32 x = 0x9e3779b9u ^ me();
    r->ticks = 0;
    lapic_write(LAPIC_TIMER_DIV, 0xB);                 /* divide by 1 */
    lapic_write(LAPIC_LVT_TIMER, (1u << 17) | 0x40);   /* periodic */
    lapic_write(LAPIC_TIMER_INIT, PERIOD);
    while (r->ticks < TICKS)
    {
        for (int k = 0; k < 64; k++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
        }
        r->iterations++;
    }
    r->busy_hash = mix(r->busy_hash, x);
    for (int s = 0; s < SLEEPS; s++)
    {
        u64 start = rdtsc();
        u32 target = r->ticks + 1;
        while (r->ticks < target)
        {
            __asm__ volatile("hlt");
        }
        r->sleep_hash = mix(r->sleep_hash, rdtsc() - start);
    }
    lapic_write(LAPIC_TIMER_INIT, 0);
}

void ap_main(void)
{
    idt_load();
    lapic_enable();
    __asm__ volatile("sti");
    __sync_fetch_and_add(&cpus_online, 1);
    u32 id = me();
    for (u32 n = 1; n <= 2; n++)
    {
        while (go[id] != n)
        {
            __asm__ volatile("pause");
        }
        work();
        done[id] = n;
    }
    for (;;)
    {
        __asm__ volatile("hlt");
    }
}

static void puthex64(u64 v)
{
    puts("0x");
    for (int i = 60; i >= 0; i -= 4)
    {
        putc("0123456789abcdef"[(v >> i) & 0xF]);
    }
}

static void phase(u32 n)
{
    for (u32 i = 1; i < cpus; i++)
    {
        go[i] = n;
    }
    work();
    for (u32 i = 1; i < cpus; i++)
    {
        while (done[i] != n)
        {
            __asm__ volatile("pause");
        }
    }
    for (u32 i = 0; i < cpus; i++)
    {
        puts("phase ");
        putdec(n);
        puts(" CPU ");
        putdec(i);
        puts(": iterations ");
        putdec(results[i].iterations);
        puts(" pings ");
        putdec(results[i].pings);
        puts(" busy ");
        puthex64(results[i].busy_hash);
        puts(" sleep ");
        puthex64(results[i].sleep_hash);
        putc('\n');
    }
}

static u32 cmos(u8 reg)
{
    outb(0x70, reg);
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"((u16)0x71));
    return v;
}

int main(u32 info)
{
    (void)info;
    gdt_load();
    idt_init();
    idt_set(0x40, isr_40);
    idt_set(0x41, isr_41);
    idt_load();
    lapic_enable();
    for (u32 i = 0; i < (u32)(ap_tramp_end - ap_tramp); i++)
    {
        ((volatile char *)AP_TRAMP)[i] = ap_tramp[i];
    }

    __asm__ volatile("sti");
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, 0x000C4500); /* INIT, assert, all excluding self */
    lapic_wait_icr();
    for (int s = 0; s < 2; s++)
    {
        lapic_write(LAPIC_ICR_LO, 0x000C4600 | (AP_TRAMP >> 12)); /* SIPI */
        lapic_wait_icr();
    }

    /* Every AP the machine has comes up within 50 ticks' time of the TSC (the PC's TSC runs at 1 GHz). */
    u64 start = rdtsc();
    while (rdtsc() - start < 50ull * PERIOD)
    {
        __asm__ volatile("pause");
    }
    cpus = cpus_online;
    puts("determinism guest: ");
    putdec(cpus);
    puts(" CPUs\n");
    phase(1);
    puts("DETERMINISM-MARKER\n");
    puts("CMOS time ");
    puthex(cmos(4) << 16 | cmos(2) << 8 | cmos(0));
    putc('\n');
    phase(2);
    puts("determinism guest: done\n");
    __asm__ volatile("cli");
    return 0;
}

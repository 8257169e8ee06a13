/* SMP on the PC machine (softkvm run --arch x86_64 --smp 4): the BSP reads the processors from the MP
   table, starts every AP by INIT and two SIPIs (real-mode trampoline at 0x7000), each AP sends one fixed
   IPI to the BSP (one after the other) and the BSP sends one to each AP; each handler counts. Then the BSP enables x2APIC
   (IA32_APIC_BASE.EXTD) and sends itself two IPIs through the x2APIC ICR MSR (0x830: self shorthand, then
   fixed to its own id), acknowledged through the x2APIC EOI MSR (0x80B). Prints the counts and PASS/FAIL. */
#include "lib.h"

#define AP_TRAMP 0x7000u
#define MAX_CPUS 16
#define WAIT_CYCLES (1ull << 34) /* about 17 s at the PC's 1 GHz TSC: generous for a loaded host */

extern char ap_tramp[], ap_tramp_end[];
void isr_41(void);
void isr_42(void);
void isr_43(void);

static volatile u32 ap_ready, ap_turn, bsp_ipis, x2_ipis;
static volatile u32 ap_ipis[MAX_CPUS];

void on_irq41(u32 *f) /* AP -> BSP */
{
    (void)f;
    __sync_fetch_and_add(&bsp_ipis, 1);
    lapic_write(LAPIC_EOI, 0);
}

void on_irq42(u32 *f) /* BSP -> AP */
{
    (void)f;
    __sync_fetch_and_add(&ap_ipis[(lapic_read(LAPIC_ID) >> 24) % MAX_CPUS], 1);
    lapic_write(LAPIC_EOI, 0);
}

void on_irq43(u32 *f) /* x2APIC self IPI */
{
    (void)f;
    x2_ipis++;
    wrmsr(0x80B, 0);
}

void ap_main(void)
{
    idt_load();
    lapic_enable();
    __asm__ volatile("sti");

    /* One IPI at a time: fixed IPIs of one vector that reach the BSP while its IRR bit is still set merge
       into one interrupt (the IRR holds one request per vector), so each AP waits until the BSP counted
       the previous one. */
    u32 turn = __sync_fetch_and_add(&ap_turn, 1);
    while (bsp_ipis != turn)
    {
        __asm__ volatile("pause");
    }

    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, (1u << 14) | 0x41); /* fixed, physical, to APIC 0 */
    lapic_wait_icr();
    __sync_fetch_and_add(&ap_ready, 1);
    for (;;)
    {
        __asm__ volatile("hlt");
    }
}

/* The APIC ids of the enabled processors in the MP configuration table; returns how many. */
static int mp_processors(u8 *ids)
{
    for (u32 p = 0xF0000; p < 0x100000; p += 16)
    {
        if (*(const u32 *)p != 0x5F504D5F) /* "_MP_" */
        {
            continue;
        }

        const u8 *cfg = (const u8 *)*(const u32 *)(p + 4);
        int count = *(const u16 *)(cfg + 34), n = 0;
        const u8 *e = cfg + 44;
        for (int i = 0; i < count; i++)
        {
            if (e[0] == 0)
            {
                if ((e[3] & 1) && n < MAX_CPUS)
                {
                    ids[n++] = e[1];
                }

                e += 20;
            }
            else
            {
                e += 8;
            }
        }

        return n;
    }

    return 0;
}

static u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

/* Waits (bounded by the TSC, not by an iteration count, so a slow host does not fail it) until *counter
   reaches value; returns whether it is exactly value. */
static int wait_for(volatile u32 *counter, u32 value)
{
    u64 start = rdtsc();
    while (*counter < value && rdtsc() - start < WAIT_CYCLES)
    {
        __asm__ volatile("pause");
    }

    return *counter == value;
}

int main(u32 info)
{
    (void)info;
    gdt_load();
    idt_init();
    idt_set(0x41, isr_41);
    idt_set(0x42, isr_42);
    idt_set(0x43, isr_43);
    idt_load();
    lapic_enable();

    u8 ids[MAX_CPUS];
    int cpus = mp_processors(ids);
    int failures = 0;
    puts("MP table processors: ");
    putdec((u32)cpus);
    putc('\n');
    failures += check("MP table lists the BSP first", cpus >= 1 && ids[0] == lapic_read(LAPIC_ID) >> 24);

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

    failures += check("every AP started and sent its IPI", wait_for(&ap_ready, (u32)cpus - 1));
    for (int i = 1; i < cpus; i++)
    {
        lapic_write(LAPIC_ICR_HI, (u32)ids[i] << 24);
        lapic_write(LAPIC_ICR_LO, (1u << 14) | 0x42); /* fixed, physical */
        lapic_wait_icr();
    }

    failures += check("the BSP received one fixed IPI from each AP", wait_for(&bsp_ipis, (u32)cpus - 1));
    puts("BSP fixed IPIs received: ");
    putdec(bsp_ipis);
    putc('\n');
    for (int i = 1; i < cpus; i++)
    {
        int ok = wait_for(&ap_ipis[ids[i] % MAX_CPUS], 1);
        puts("AP ");
        putdec(ids[i]);
        puts(" fixed IPIs received: ");
        putdec(ap_ipis[ids[i] % MAX_CPUS]);
        putc('\n');
        failures += check("the AP received one fixed IPI from the BSP", ok);
    }

    u32 a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    failures += check("CPUID reports x2APIC", (c >> 21) & 1);
    wrmsr(0x1B, rdmsr(0x1B) | (1u << 10)); /* IA32_APIC_BASE.EXTD (EN is set) */
    failures += check("IA32_APIC_BASE has EN and EXTD", (rdmsr(0x1B) & 0xC00) == 0xC00);
    u32 x2id = (u32)rdmsr(0x802);
    failures += check("x2APIC ID MSR is the BSP's APIC id", x2id == ids[0]);
    wrmsr(0x830, (1u << 18) | (1u << 14) | 0x43);              /* ICR: self shorthand, fixed */
    wrmsr(0x830, ((u64)x2id << 32) | (1u << 14) | 0x43);       /* ICR: fixed, physical destination = self */
    int x2ok = wait_for(&x2_ipis, 2);
    puts("x2APIC self IPIs received: ");
    putdec(x2_ipis);
    putc('\n');
    failures += check("two x2APIC IPIs through ICR 0x830, EOI through 0x80B", x2ok);
    __asm__ volatile("cli");
    puts(failures == 0 ? "ALL PASS\n" : "SOME FAILED\n");
    return failures;
}

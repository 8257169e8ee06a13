/*
 * The guest of the deterministic-execution tests (docs/snapshots.md#deterministic-execution): its output
 * depends on timing, so it differs from run to run unless the run is deterministic. vCPU 0 starts the
 * others with PSCI CPU_ON; every vCPU then computes while its virtual timer (PPI 27) ticks, polled through
 * ICC_IAR1_EL1: at each tick it folds the iteration count and CNTVCT into a hash, and every third tick it
 * sends an SGI to the next vCPU, which folds the SGIs it receives into its hash too. Then each vCPU sleeps
 * in WFI for four timer periods and folds the counter at each wake-up. vCPU 0 prints every vCPU's hashes,
 * a marker for the snapshot tests, the PL031 clock, then a second phase of the same work. Last, vCPU 0 echoes
 * console input with the timer tick it arrived at (until '.', or 2000 ticks without input) and powers off:
 * the guest of the record-and-replay tests.
 */
#include "guest.h"

#define RTC_BASE 0x09010000UL
#define SGI_PING 3
#define TIMER_PPI 27
#define PERIOD 20000 /* counter ticks at 62.5 MHz: 320 us */
#define TICKS 12
#define SLEEPS 4

struct result {
    u64 busy_hash;
    u64 sleep_hash;
    u64 iterations;
    u64 pings;
};

static volatile u32 online[MAX_CPUS];
static volatile u32 done[MAX_CPUS];
static volatile u32 go[MAX_CPUS];
static struct result results[MAX_CPUS];
static u64 cpus;

static u64 cntvct(void)
{
    u64 v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static void arm_timer(u64 ticks)
{
    __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(ticks), "r"(1UL));
}

static u32 ack(void)
{
    u64 v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v)); /* ICC_IAR1_EL1 */
    return (u32)v & 0xffffff;
}

static void eoi(u32 intid) { __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"((u64)intid)); }

static void send_sgi(u64 target)
{
    u64 aff = affinity_of(target);
    u64 v = ((u64)SGI_PING << 24) | ((aff >> 8 & 0xff) << 16) | (1UL << (aff & 0xf));
    __asm__ volatile("dsb ish; msr S3_0_C12_C11_5, %0; isb" ::"r"(v));
}

static u64 mix(u64 h, u64 v) { return (h ^ v) * 0x100000001b3UL; }

/* The work of one phase on vCPU id: busy with timer ticks and SGIs, then asleep in WFI. */
static void work(u64 id)
{
    struct result *r = &results[id];
    u64 x = 0x9e3779b97f4a7c15UL ^ id, ticks = 0;
    arm_timer(PERIOD);
    while (ticks < TICKS) {
        for (int k = 0; k < 64; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        r->iterations++;
        u32 intid = ack();
        if (intid == TIMER_PPI) {
            ticks++;
            r->busy_hash = mix(mix(r->busy_hash, r->iterations), cntvct());
            arm_timer(PERIOD);
            if (ticks % 3 == 0 && cpus > 1)
                send_sgi((id + 1) % cpus);
        } else if (intid == SGI_PING) {
            r->pings++;
            r->busy_hash = mix(r->busy_hash, r->iterations * 7);
        }
        if (intid < 1020)
            eoi(intid);
    }
    r->busy_hash = mix(r->busy_hash, x);

    for (int s = 0; s < SLEEPS; s++) {
        u64 start = cntvct();
        arm_timer(PERIOD);
        for (;;) {
            __asm__ volatile("wfi");
            u32 intid = ack();
            if (intid < 1020)
                eoi(intid);
            if (intid == SGI_PING)
                r->pings++;
            if (intid == TIMER_PPI)
                break;
        }
        r->sleep_hash = mix(r->sleep_hash, cntvct() - start);
    }
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(0UL));
}

static void gic_init(void)
{
    u64 rd = find_redistributor(my_affinity());
    gicv3_cpu_init(rd);
    wr32(rd + 0x10000 + 0x100, 1u << TIMER_PPI); /* GICR_ISENABLER0: the virtual timer too */
}

static void put_hex(u64 v)
{
    puts_raw("0x");
    for (int i = 60; i >= 0; i -= 4)
        putc_raw("0123456789abcdef"[v >> i & 0xf]);
}

static void report(int phase)
{
    for (u64 i = 0; i < cpus; i++) {
        puts_raw("phase ");
        put_dec((u64)phase);
        puts_raw(" vCPU ");
        put_dec(i);
        puts_raw(": iterations ");
        put_dec(results[i].iterations);
        puts_raw(" pings ");
        put_dec(results[i].pings);
        puts_raw(" busy ");
        put_hex(results[i].busy_hash);
        puts_raw(" sleep ");
        put_hex(results[i].sleep_hash);
        puts_raw("\n");
    }
}

/* Runs one phase on every vCPU (the secondaries wait for go[id] to change) and waits for them all. */
static void phase(u32 n)
{
    for (u64 i = 1; i < cpus; i++)
        __atomic_store_n(&go[i], n, __ATOMIC_RELEASE);
    work(0);
    for (u64 i = 1; i < cpus; i++)
        while (__atomic_load_n(&done[i], __ATOMIC_ACQUIRE) != n)
            __asm__ volatile("yield");
}

/* Echoes console input with the timer tick it came at, until '.' or 2000 ticks without any. */
static void echo(void)
{
    puts_raw("echo: type, end with '.'\n");
    u64 ticks = 0, quiet = 0;
    arm_timer(PERIOD);
    while (quiet < 2000) {
        while (!(rd32(UART_BASE + 0x18) & (1u << 4))) { /* UARTFR.RXFE clear: a byte waits */
            char c = (char)rd32(UART_BASE);
            quiet = 0;
            puts_raw("echo '");
            putc_raw(c >= ' ' && c < 127 ? c : '?');
            puts_raw("' at tick ");
            put_dec(ticks);
            puts_raw("\n");
            if (c == '.')
                return;
        }
        __asm__ volatile("wfi");
        u32 intid = ack();
        if (intid < 1020)
            eoi(intid);
        if (intid == TIMER_PPI) {
            ticks++;
            quiet++;
            arm_timer(PERIOD);
        }
    }
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(0UL));
    puts_raw("echo: no input\n");
}

void secondary_main(u64 id)
{
    gic_init();
    __atomic_store_n(&online[id], 1, __ATOMIC_RELEASE);
    for (u32 n = 1; n <= 2; n++) {
        while (__atomic_load_n(&go[id], __ATOMIC_ACQUIRE) != n)
            __asm__ volatile("yield");
        work(id);
        __atomic_store_n(&done[id], n, __ATOMIC_RELEASE);
    }
    psci(PSCI_CPU_OFF, 0, 0, 0);
}

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301);
    wr32(GICD_BASE, (1u << 4) | (1u << 1) | 1u); /* GICD_CTLR: ARE, EnableGrp1 */
    gic_init();
    cpus = 1;
    while (cpus < MAX_CPUS && psci(PSCI_CPU_ON, affinity_of(cpus), (u64)secondary_entry, cpus) == 0) {
        while (!__atomic_load_n(&online[cpus], __ATOMIC_ACQUIRE))
            ;
        cpus++;
    }
    puts_raw("determinism guest: ");
    put_dec(cpus);
    puts_raw(" vCPUs\n");

    phase(1);
    report(1);
    puts_raw("DETERMINISM-MARKER\n");
    puts_raw("PL031 seconds ");
    put_dec(rd32(RTC_BASE));
    puts_raw("\n");
    phase(2);
    report(2);
    echo();
    puts_raw("determinism guest: done\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

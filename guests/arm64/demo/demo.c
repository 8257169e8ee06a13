/*
 * The built-in demo guest of `softkvm run`: four vCPUs on the QEMU virt machine with a GICv3.
 * vCPU 0 greets, starts the others with PSCI CPU_ON (each greets with its MPIDR), sends each a
 * targeted SGI and waits for the answer, broadcasts one SGI to all others, reads the PL031 clock,
 * waits until the secondaries are off (AFFINITY_INFO) and powers the machine off (SYSTEM_OFF).
 * Output is ordered by handshakes, so it is the same on every run but for the clock line.
 */
#include "guest.h"

#define RTC_BASE 0x09010000UL
#define NR_CPUS 4

#define SGI_PING 1
#define SGI_PONG 2
#define SGI_BYE 3

static volatile u32 online[NR_CPUS];
static volatile u32 bye_count;
static volatile u32 print_lock;

static u64 read_mpidr(void)
{
    u64 v;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v));
    return v;
}

static void lock(void)
{
    while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
        ;
}

static void unlock(void) { __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE); }

static void put_uint(u64 v, int base, int width)
{
    char buf[24];
    int n = 0;
    do {
        u64 d = v % (u64)base;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= (u64)base;
    } while (v);
    while (n < width)
        buf[n++] = '0';
    while (n)
        putc_raw(buf[--n]);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), all in unsigned arithmetic. */
static void civil_from_days(u64 z, u64 *y, u64 *m, u64 *d)
{
    z += 719468;
    u64 era = z / 146097;
    u64 doe = z - era * 146097;
    u64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    u64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    u64 mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static u64 redistributor_of(u64 mpidr)
{
    u64 aff = (mpidr & 0xffffff) | ((mpidr >> 32 & 0xff) << 24);
    for (u64 rd = GICR_BASE;; rd += GICR_STRIDE) {
        u64 typer = rd64(rd + 0x8);
        if ((typer >> 32) == aff)
            return rd;
        if (typer & (1u << 4)) /* Last */
            return 0;
    }
}

static void gic_cpu_init(u64 mpidr) { gicv3_cpu_init(redistributor_of(mpidr)); }

static void send_sgi(u64 target_mpidr, u32 intid, int broadcast)
{
    u64 v = ((u64)intid << 24);
    if (broadcast)
        v |= 1UL << 40; /* IRM: all but self */
    else
        v |= ((target_mpidr >> 8 & 0xff) << 16) | ((target_mpidr >> 16 & 0xff) << 32) |
             (1UL << (target_mpidr & 0xf));
    __asm__ volatile("dsb ish; msr S3_0_C12_C11_5, %0; isb" ::"r"(v)); /* ICC_SGI1R_EL1 */
}

/* Waits (WFI, interrupts masked: WFI still wakes on a pending IRQ) for an SGI; returns its INTID. */
static u32 wait_sgi(void)
{
    for (;;) {
        u64 iar;
        __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(iar)); /* ICC_IAR1_EL1 */
        u32 intid = (u32)iar & 0xffffff;
        if (intid < 1020) {
            __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"(iar)); /* ICC_EOIR1_EL1 */
            return intid;
        }
        __asm__ volatile("wfi");
    }
}

static void greet(u64 index, u64 mpidr)
{
    lock();
    puts_raw("vCPU ");
    put_uint(index, 10, 0);
    puts_raw(" (MPIDR 0x");
    put_uint(mpidr, 16, 8);
    puts_raw(") says hello\n");
    unlock();
}

void secondary_main(u64 index)
{
    u64 mpidr = read_mpidr();
    gic_cpu_init(mpidr);
    greet(index, mpidr);
    __atomic_store_n(&online[index], 1, __ATOMIC_RELEASE);
    for (;;) {
        u32 intid = wait_sgi();
        if (intid == SGI_PING) {
            lock();
            puts_raw("vCPU ");
            put_uint(index, 10, 0);
            puts_raw(" got SGI 1 from vCPU 0, answering with SGI 2\n");
            unlock();
            send_sgi(0x80000000UL, SGI_PONG, 0);
        } else if (intid == SGI_BYE) {
            __atomic_fetch_add(&bye_count, 1, __ATOMIC_ACQ_REL);
            psci(PSCI_CPU_OFF, 0, 0, 0);
        }
    }
}

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301); /* UARTCR: UARTEN | TXE | RXE */
    u64 mpidr = read_mpidr();
    puts_raw("SoftKvm demo guest: 4 vCPUs, GICv3, PL011, PL031, PSCI\n");
    greet(0, mpidr);

    wr32(GICD_BASE, (1u << 4) | (1u << 1) | 1u); /* GICD_CTLR: ARE, EnableGrp1, EnableGrp0 */
    gic_cpu_init(mpidr);

    for (u64 i = 1; i < NR_CPUS; i++) {
        long r = psci(PSCI_CPU_ON, i, (u64)secondary_entry, i);
        if (r != 0) {
            puts_raw("CPU_ON failed\n");
            psci(PSCI_SYSTEM_OFF, 0, 0, 0);
        }
        while (!__atomic_load_n(&online[i], __ATOMIC_ACQUIRE))
            ;
    }

    for (u64 i = 1; i < NR_CPUS; i++) {
        send_sgi(0x80000000UL | i, SGI_PING, 0);
        u32 intid = wait_sgi();
        lock();
        puts_raw("vCPU 0 got SGI ");
        put_uint(intid, 10, 0);
        puts_raw(" back from vCPU ");
        put_uint(i, 10, 0);
        puts_raw("\n");
        unlock();
    }

    send_sgi(0, SGI_BYE, 1);
    while (__atomic_load_n(&bye_count, __ATOMIC_ACQUIRE) != NR_CPUS - 1)
        ;
    puts_raw("broadcast SGI 3 reached all 3 other vCPUs\n");

    u64 now = rd32(RTC_BASE); /* RTCDR: seconds since the epoch */
    u64 y, m, d, secs = now % 86400;
    civil_from_days(now / 86400, &y, &m, &d);
    puts_raw("PL031 clock: ");
    put_uint(y, 10, 4);
    putc_raw('-');
    put_uint(m, 10, 2);
    putc_raw('-');
    put_uint(d, 10, 2);
    putc_raw(' ');
    put_uint(secs / 3600, 10, 2);
    putc_raw(':');
    put_uint(secs / 60 % 60, 10, 2);
    putc_raw(':');
    put_uint(secs % 60, 10, 2);
    puts_raw(" UTC\n");

    for (u64 i = 1; i < NR_CPUS; i++)
        while (psci(PSCI_AFFINITY_INFO, i, 0, 0) != 1) /* 1 = OFF */
            ;
    puts_raw("all secondaries are off; powering off\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

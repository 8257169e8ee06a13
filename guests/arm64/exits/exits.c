/*
 * Exit micro-benchmark (issue #19): 2 vCPUs, GICv3, QEMU virt memory map. vCPU 0 starts vCPU 1 with PSCI
 * CPU_ON, then times ROUNDS round trips of each kind with the generic counter (CNTVCT_EL0 at CNTFRQ_EL0)
 * after WARMUP untimed ones, and prints the average per round trip as the guest sees it:
 *
 *   hvc        HVC #0 with PSCI_VERSION: to the hypervisor and back (KVM and QEMU answer PSCI themselves)
 *   mmio-vmm   LDR of the PL011's UARTFR: an MMIO read served by the VMM's device model (on KVM an exit to
 *              user space; on QEMU TCG the device model behind the softmmu IO path)
 *   mmio-gicd  LDR of GICD_TYPER: an MMIO read of the in-kernel GIC distributor (QEMU: its GICv3 model)
 *   gicd-state LDR of GICD_ISENABLER1: a distributor register that reads the GIC's state (SPIs 32-63
 *              enabled), not a fixed word: what a general in-kernel register costs
 *   eoi        MSR ICC_EOIR1_EL1 of an SGI this vCPU sent itself and acknowledged; only the EOI is timed,
 *              each one between two counter reads, minus the same pair of reads with nothing between
 *   ipi        SGI to vCPU 1, which takes it (ICC_IAR1_EL1) and answers with an SGI back; both wait in WFI
 *
 * Both vCPUs run with the MMU on, as a kernel does: an identity map of the first 2 GiB, devices as
 * Device-nGnRnE, RAM as Normal write-back. Interrupts stay masked (PSTATE.I): WFI still wakes for a
 * pending interrupt, and the CPU interface is polled through ICC_IAR1_EL1. Output: one line per row, "  <key> <what> ... <ns> ns", then PASS, then
 * PSCI SYSTEM_OFF. A round trip that does not behave (a wrong INTID, a spurious acknowledge where an SGI
 * must be pending) prints FAIL.
 */
#include "guest.h"

/* Profiling builds may choose other counts and a subset of the rows (a bit mask: 1 hvc, 2 mmio-vmm, 4 mmio-gicd,
 * 8 eoi, 16 ipi, 32 gicd-state; printed in that order but gicd-state after mmio-gicd). */
#ifndef ROUNDS
#define ROUNDS 65536
#endif
#ifndef WARMUP
#define WARMUP 16384
#endif
#ifndef BATCHES
#define BATCHES 64
#endif
#ifndef ROWS
#define ROWS 0x3f
#endif

#define PSCI_VERSION 0x84000000UL
#define UARTFR 0x18
#define GICD_TYPER 0x4
#define GICD_ISENABLER1 0x104

#define SGI_SELF 1
#define SGI_PING 2
#define SGI_PONG 3

static volatile u32 online;

/* Level-1 table (4 KiB granule, T0SZ = 25): 1 GiB blocks. [0] devices: AttrIndx 0, AF, PXN, UXN;
   [1] RAM: AttrIndx 1, inner shareable, AF. */
static const u64 identity_map[512] __attribute__((aligned(4096))) = {
    [0] = 0x0000000000000000UL | 1 | (0 << 2) | (1 << 10) | (1UL << 53) | (1UL << 54),
    [1] = 0x0000000040000000UL | 1 | (1 << 2) | (3 << 8) | (1 << 10),
};

static void mmu_on(void)
{
    __asm__ volatile("msr mair_el1, %0" ::"r"(0xff00UL));                   /* attr0 Device-nGnRnE, attr1 Normal WB */
    __asm__ volatile("msr tcr_el1, %0" ::"r"(25UL | (1UL << 8) | (1UL << 10) | (3UL << 12) | (1UL << 23) | (2UL << 32)));
    __asm__ volatile("msr ttbr0_el1, %0; isb" ::"r"((u64)identity_map));
    u64 sctlr;
    __asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
    __asm__ volatile("dsb sy; msr sctlr_el1, %0; isb" ::"r"(sctlr | 1 | (1 << 2) | (1 << 12)) : "memory"); /* M, C, I */
}
static volatile u64 sink;

static void fail(const char *what)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw("\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

static inline u64 counter(void)
{
    u64 v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

static inline u64 frequency(void)
{
    u64 v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

static u64 redistributor_of(u64 aff)
{
    for (u64 rd = GICR_BASE;; rd += GICR_STRIDE) {
        u64 typer = rd64(rd + 0x8);
        if ((typer >> 32) == aff)
            return rd;
        if (typer & (1u << 4))
            fail("no redistributor");
    }
}

/* ICC_SGI1R_EL1: INTID, Aff1 = 0, target list bit = Aff0 of the vCPU (vCPUs 0 and 1 have Aff0 0 and 1). */
static inline void send_sgi(u64 aff0, u64 intid)
{
    __asm__ volatile("msr S3_0_C12_C11_5, %0; isb" ::"r"((intid << 24) | (1UL << aff0)) : "memory");
}

static inline u32 acknowledge(void)
{
    u64 v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v)::"memory"); /* ICC_IAR1_EL1 */
    return (u32)v;
}

static inline void end_of_interrupt(u32 iar)
{
    __asm__ volatile("msr S3_0_C12_C12_1, %0" ::"r"((u64)iar) : "memory"); /* ICC_EOIR1_EL1 */
}

/* Waits (in WFI) until an interrupt can be acknowledged and returns its INTID, EOIed. */
static u32 wait_sgi(void)
{
    for (;;) {
        u32 iar = acknowledge();
        if ((iar & 0xffffff) < 1020) {
            end_of_interrupt(iar);
            return iar & 0xffffff;
        }
        __asm__ volatile("wfi" ::: "memory");
    }
}

void secondary_main(u64 id)
{
    (void)id;
    mmu_on();
    gicv3_cpu_init(redistributor_of(my_affinity()));
    __atomic_store_n(&online, 1, __ATOMIC_RELEASE);
    for (;;) {
        if (wait_sgi() == SGI_PING)
            send_sgi(0, SGI_PONG);
    }
}

static void hvc_round_trips(u64 n)
{
    for (u64 i = 0; i < n; i++) {
        if (psci(PSCI_VERSION, 0, 0, 0) < 0)
            fail("PSCI_VERSION");
    }
}

static void mmio_reads(u64 address, u64 n)
{
    for (u64 i = 0; i < n; i++)
        sink = rd32(address);
}

/* Sends this vCPU SGI_SELF, acknowledges it, and returns the counter ticks of its EOI alone. */
static u64 timed_eoi(void)
{
    send_sgi(0, SGI_SELF);
    u32 iar = acknowledge();
    if ((iar & 0xffffff) != SGI_SELF)
        fail("self SGI not pending");
    u64 t0 = counter();
    end_of_interrupt(iar);
    u64 t1 = counter();
    return t1 - t0;
}

static u64 timed_nothing(void)
{
    u64 t0 = counter();
    u64 t1 = counter();
    return t1 - t0;
}

static void ipi_round_trips(u64 n)
{
    for (u64 i = 0; i < n; i++) {
        send_sgi(1, SGI_PING);
        if (wait_sgi() != SGI_PONG)
            fail("IPI answer");
    }
}

enum row { ROW_HVC, ROW_MMIO_VMM, ROW_MMIO_GICD, ROW_EOI, ROW_IPI, ROW_GICD_STATE };

/* The counter ticks of n round trips of one row (the EOI row: its EOIs alone, less the empty timings). */
static long ticks_of(enum row row, u64 n)
{
    u64 t = counter();
    switch (row) {
    case ROW_HVC:
        hvc_round_trips(n);
        break;
    case ROW_MMIO_VMM:
        mmio_reads(UART_BASE + UARTFR, n);
        break;
    case ROW_MMIO_GICD:
        mmio_reads(GICD_BASE + GICD_TYPER, n);
        break;
    case ROW_GICD_STATE:
        mmio_reads(GICD_BASE + GICD_ISENABLER1, n);
        break;
    case ROW_EOI: {
        long eoi = 0;
        for (u64 i = 0; i < n; i++)
            eoi += (long)timed_eoi() - (long)timed_nothing();
        return eoi;
    }
    case ROW_IPI:
        ipi_round_trips(n);
        break;
    }
    return (long)(counter() - t);
}

/*
 * One row: WARMUP untimed round trips, then ROUNDS in BATCHES batches, and the median batch. A host that
 * preempts the guest (QEMU's and SoftKvm's threads share the machine with other work) inflates the batch it
 * lands in, not the median; every batch is still an average over its round trips.
 */
static long row_ticks(enum row row)
{
    static long batch[BATCHES];
    ticks_of(row, WARMUP);
    for (int b = 0; b < BATCHES; b++) {
        long v = ticks_of(row, ROUNDS / BATCHES);
        int i = b;
        for (; i > 0 && batch[i - 1] > v; i--)
            batch[i] = batch[i - 1];
        batch[i] = v;
    }
    return (batch[BATCHES / 2 - 1] + batch[BATCHES / 2]) / 2;
}

/* Prints "  key what....  123.4 ns" from the ticks of one batch at frequency f. */
static void report(const char *key, const char *what, enum row row, u64 f)
{
    /* a batch's ticks stay far below 2^63 / 10^10 (14 s at 62.5 MHz) */
    long tenths = row_ticks(row) * 10000000000L / (long)(f * (ROUNDS / BATCHES));
    int col = 0;
    puts_raw("  ");
    for (const char *p = key; *p; p++, col++)
        putc_raw(*p);
    for (; col < 11; col++)
        putc_raw(' ');
    col = 0;
    for (const char *p = what; *p; p++, col++)
        putc_raw(*p);
    for (; col < 56; col++)
        putc_raw(' ');
    char num[24];
    int n = 0;
    u64 v = (u64)(tenths < 0 ? -tenths : tenths);
    num[n++] = (char)('0' + v % 10);
    num[n++] = '.';
    v /= 10;
    do {
        num[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (tenths < 0)
        num[n++] = '-';
    for (int pad = n; pad < 10; pad++)
        putc_raw(' ');
    while (n)
        putc_raw(num[--n]);
    puts_raw(" ns\n");
}

void primary_main(void)
{
    mmu_on();
    wr32(UART_BASE + 0x30, 0x301);
    wr32(GICD_BASE, (1u << 4) | (1u << 1) | 1u); /* GICD_CTLR: ARE, EnableGrp1NS, EnableGrp0 */
    gicv3_cpu_init(redistributor_of(my_affinity()));
    if (psci(PSCI_CPU_ON, 1, (u64)secondary_entry, 1) != 0)
        fail("CPU_ON");
    while (!__atomic_load_n(&online, __ATOMIC_ACQUIRE))
        ;

    u64 f = frequency();
    puts_raw("exit round trips: ");
    put_dec(ROUNDS);
    puts_raw(" each after ");
    put_dec(WARMUP);
    puts_raw(" untimed; median of ");
    put_dec(BATCHES);
    puts_raw(" batches; generic counter at ");
    put_dec(f);
    puts_raw(" Hz, 2 vCPUs, GICv3, MMU on\n");

    if (ROWS & 1)
        report("hvc", "HVC to the hypervisor and back (PSCI_VERSION)", ROW_HVC, f);
    if (ROWS & 2)
        report("mmio-vmm", "MMIO read served by a VMM device (PL011 UARTFR)", ROW_MMIO_VMM, f);
    if (ROWS & 4)
        report("mmio-gicd", "MMIO read of a GIC distributor register (GICD_TYPER)", ROW_MMIO_GICD, f);
    if (ROWS & 32)
        report("gicd-state", "MMIO read of GIC distributor state (GICD_ISENABLER1)", ROW_GICD_STATE, f);
    if (ROWS & 8)
        report("eoi", "EOI of an interrupt (ICC_EOIR1_EL1 of an acked SGI)", ROW_EOI, f);
    if (ROWS & 16)
        report("ipi", "IPI to the other vCPU and back (SGI, both in WFI)", ROW_IPI, f);

    puts_raw("PASS\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

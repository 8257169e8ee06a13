/* Exit micro-benchmark (issue #19), the x86 counterpart of guests/arm64/exits: 2 vCPUs on the PC machine
   (softkvm run --arch x86_64 --smp 2; qemu-system-x86_64 -smp 2 -device isa-debug-exit -device pc-testdev).
   The BSP starts the AP by INIT/SIPI, both turn paging on (4 MiB pages identity-mapping 4 GiB, devices
   uncached), then the BSP times ROUNDS round trips of each kind with the TSC, calibrated against PIT
   channel 2 (its counter read at both ends of 20 ms, median of five), after WARMUP untimed ones, in BATCHES batches, and prints the median batch per round trip:

     out-vmm     OUT to the 16550A's scratch register (0x3FF): a port the VMM's device model serves
     in-kernel   IN from the master PIC's IMR (0x21): a port of the in-kernel irqchip (QEMU: its i8259)
     mmio-ioapic a read of the IOAPIC's IOWIN (0xFEC00010, the version register selected)
     mmio-vmm    a 32-bit read of a VMM device's register: virtio-mmio MagicValue where the Multiboot
                 command line announces virtio-mmio (SoftKvm's PC), else pc-testdev's MMIO window at
                 0xFF000000 (QEMU's -device pc-testdev)
     eoi         the local APIC EOI write of a self IPI, timed alone inside its handler, minus an empty timing
     ipi         a fixed IPI to the AP, whose handler answers with one back; both wait in HLT
     vmcall      VMCALL with an unknown hypercall number: KVM answers -KVM_ENOSYS (-1000) in EAX and skips it.
                 Without a hypercall interface (QEMU TCG) VMCALL raises #UD and the guest's handler does the
                 same; the line then says so.

   Output: one line per row, "  <key> <what> ... <ns> ns", then ALL PASS, and isa-debug-exit.

   The same source built with -m64 is exits64.elf: the same rows from 64-bit code (long mode, as x86 Linux runs,
   on SoftKvm's native x86-64 engine), entered by boot64.S from Multiboot with 4 GiB identity-mapped by 2 MiB
   pages (devices uncached), its APs by smp_tramp64.S; the header line says "long mode". */
#include "lib.h"

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
#define ROWS 0x7f
#endif

#define AP_TRAMP 0x7000u
#define SCRATCH_PORT 0x3FF
#define PIC_IMR 0x21
#define IOAPIC 0xFEC00000u
#define PC_TESTDEV_MMIO 0xFF000000u
#define VECTOR_PONG 0x41
#define VECTOR_PING 0x42
#define VECTOR_SELF 0x43
#define KVM_ENOSYS 1000u
#define UNKNOWN_HYPERCALL 0x7FFFu

extern char ap_tramp[], ap_tramp_end[];
void isr_ud(void);
void isr_41(void);
void isr_42(void);
void isr_43(void);

#ifndef __x86_64__
static u32 page_dir[1024] __attribute__((aligned(4096)));
#endif
static volatile u32 ap_online, pongs, pings, selfs, ud_vmcalls;
static volatile u32 eoi_ticks;
static u32 vmm_mmio;
static u8 ap_id;

static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline u32 rdtsc32(void)
{
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return lo;
}

/* n / d by shift and subtract (no libgcc in a freestanding 32-bit guest). */
static u64 udiv64(u64 n, u64 d)
{
    u64 q = 0, r = 0;
    for (int i = 63; i >= 0; i--)
    {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d)
        {
            r -= d;
            q |= 1ull << i;
        }
    }

    return q;
}

/* 4 MiB pages for all of 4 GiB, identity: RAM write-back, 3 GiB and up (the PC's device window) uncached.
   (The 64-bit guest runs with boot64.S's tables, as its APs do.) */
static void paging_on(void)
{
#ifndef __x86_64__
    u32 cr;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr));
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr | 0x10)); /* PSE */
    __asm__ volatile("mov %0, %%cr3" ::"r"((u32)page_dir));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr));
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr | 0x80000000u) : "memory");
#endif
}

void on_ud(ureg *f)
{
    /* VMCALL (0F 01 C1) where the CPU has no hypercall interface: answer as KVM does for an unknown number. */
    const u8 *insn = (const u8 *)f[1];
    if (insn[0] != 0x0F || insn[1] != 0x01 || insn[2] != 0xC1)
    {
        die("#UD outside VMCALL");
    }

    f[-1] = (ureg)-(long)KVM_ENOSYS; /* EAX (RAX) in the frame below the error code */
    f[1] += 3;
    ud_vmcalls++;
}

void on_irq41(ureg *f) /* the AP's answer */
{
    (void)f;
    pongs++;
    lapic_write(LAPIC_EOI, 0);
}

void on_irq42(ureg *f) /* the BSP's ping, on the AP */
{
    (void)f;
    pings++;
    lapic_write(LAPIC_EOI, 0);
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, (1u << 14) | VECTOR_PONG);
}

void on_irq43(ureg *f) /* a self IPI: its EOI alone is timed */
{
    (void)f;
    u32 t0 = rdtsc32();
    lapic_write(LAPIC_EOI, 0);
    u32 t1 = rdtsc32();
    u32 t2 = rdtsc32();
    u32 t3 = rdtsc32();
    eoi_ticks += (t1 - t0) - (t3 - t2);
    selfs++;
}

void ap_main(void)
{
    paging_on();
    idt_load();
    lapic_enable();
    __atomic_store_n(&ap_online, 1, __ATOMIC_RELEASE);
    __asm__ volatile("sti");
    for (;;)
    {
        __asm__ volatile("hlt");
    }
}

/* PIT channel 2's counter (a rate generator counting down from 65536 at 1.193182 MHz) and the TSC in the
   middle of reading it; the read is repeated when the TSC says it took long (the host preempted it). */
static void pit_sample(u32 *tsc, u32 *count)
{
    u32 best = 0xFFFFFFFFu;
    for (int k = 0; k < 4; k++)
    {
        u32 ta = rdtsc32();
        outb(0x43, 0x80); /* latch channel 2 */
        u32 c = inb(0x42);
        c |= (u32)inb(0x42) << 8;
        u32 tb = rdtsc32();
        if (tb - ta < best)
        {
            best = tb - ta;
            *tsc = ta + (tb - ta) / 2;
            *count = c;
        }
    }
}

/* TSC ticks over 20 ms of PIT time, read from the counter at both ends (so a preemption while waiting does
   not matter, only one inside a sample, which pit_sample avoids). */
static u32 tsc_per_20ms_once(void)
{
    const u32 span = 1193182 / 50;
    u32 t0, c0, t1, c1;
    pit_sample(&t0, &c0);
    do
    {
        pit_sample(&t1, &c1);
    } while (((c0 - c1) & 0xFFFF) < span);

    /* scale to exactly span PIT ticks */
    return (u32)udiv64((u64)(t1 - t0) * span, (c0 - c1) & 0xFFFF);
}

/* The TSC frequency from PIT channel 2, in ticks per 50 ms: the median of five measurements. */
static u32 tsc_per_50ms(void)
{
    outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xB4);                             /* channel 2, lobyte/hibyte, mode 2, binary */
    outb(0x42, 0);
    outb(0x42, 0);
    u32 v[5];
    for (int k = 0; k < 5; k++)
    {
        u32 x = tsc_per_20ms_once();
        int i = k;
        for (; i > 0 && v[i - 1] > x; i--)
        {
            v[i] = v[i - 1];
        }

        v[i] = x;
    }

    return v[2] / 2 * 5;
}

static void wait_for(volatile u32 *counter, u32 value)
{
    __asm__ volatile("cli");
    while (*counter != value)
    {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }

    __asm__ volatile("sti");
}

enum row { ROW_OUT_VMM, ROW_IN_KERNEL, ROW_MMIO_IOAPIC, ROW_MMIO_VMM, ROW_EOI, ROW_IPI, ROW_VMCALL };

/* The TSC ticks of n round trips of one row (the EOI row: its EOIs alone, less the empty timings). */
static u32 ticks_of(enum row row, u32 n)
{
    u32 t = rdtsc32();
    switch (row)
    {
    case ROW_OUT_VMM:
        for (u32 i = 0; i < n; i++)
        {
            outb(SCRATCH_PORT, (u8)i);
        }

        break;
    case ROW_IN_KERNEL:
        for (u32 i = 0; i < n; i++)
        {
            if (inb(PIC_IMR) == 0x5A)
            {
                die("PIC IMR changed");
            }
        }

        break;
    case ROW_MMIO_IOAPIC:
        for (u32 i = 0; i < n; i++)
        {
            if ((mmio_read(IOAPIC + 0x10) & 0xff) == 0)
            {
                die("IOAPIC version 0");
            }
        }

        break;
    case ROW_MMIO_VMM:
        for (u32 i = 0; i < n; i++)
        {
            (void)mmio_read(vmm_mmio);
        }

        break;
    case ROW_EOI:
        eoi_ticks = 0;
        for (u32 i = 0; i < n; i++)
        {
            u32 expected = selfs + 1;
            lapic_write(LAPIC_ICR_HI, 0);
            lapic_write(LAPIC_ICR_LO, (1u << 18) | (1u << 14) | VECTOR_SELF); /* self shorthand, fixed */
            wait_for(&selfs, expected);
        }

        return eoi_ticks;
    case ROW_IPI:
        for (u32 i = 0; i < n; i++)
        {
            u32 expected = pongs + 1;
            lapic_write(LAPIC_ICR_HI, (u32)ap_id << 24);
            lapic_write(LAPIC_ICR_LO, (1u << 14) | VECTOR_PING);
            wait_for(&pongs, expected);
        }

        break;
    case ROW_VMCALL:
        for (u32 i = 0; i < n; i++)
        {
            u32 a = UNKNOWN_HYPERCALL, b = 0, c = 0, d = 0;
            __asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d)::"memory");
            if (a != (u32)-KVM_ENOSYS)
            {
                die("VMCALL of an unknown number did not answer -KVM_ENOSYS");
            }
        }

        break;
    }

    return rdtsc32() - t;
}

/* WARMUP untimed round trips, then ROUNDS in BATCHES batches; the median batch (see guests/arm64/exits). */
static u32 row_ticks(enum row row)
{
    static u32 batch[BATCHES];
    ticks_of(row, WARMUP);
    for (int b = 0; b < BATCHES; b++)
    {
        u32 v = ticks_of(row, ROUNDS / BATCHES);
        int i = b;
        for (; i > 0 && batch[i - 1] > v; i--)
        {
            batch[i] = batch[i - 1];
        }

        batch[i] = v;
    }

    return (batch[BATCHES / 2 - 1] + batch[BATCHES / 2]) / 2;
}

static void pad(const char *s, int width)
{
    int n = 0;
    for (; s[n]; n++)
    {
        putc(s[n]);
    }

    for (; n < width; n++)
    {
        putc(' ');
    }
}

/* "  key what....  123.4 ns": the median batch's ticks per round trip, at tsc50 ticks per 50 ms. */
static void report(const char *key, const char *what, enum row row, u32 tsc50)
{
    u32 ticks = row_ticks(row);
    /* tenths of ns = ticks * 10 * 50,000,000 / tsc50 / batch size */
    u32 tenths = (u32)udiv64((u64)ticks * 500000000ull, (u64)tsc50 * (ROUNDS / BATCHES));
    char num[16];
    int n = 0;
    num[n++] = (char)('0' + tenths % 10);
    num[n++] = '.';
    tenths /= 10;
    do
    {
        num[n++] = (char)('0' + tenths % 10);
        tenths /= 10;
    } while (tenths);

    puts("  ");
    pad(key, 12);
    pad(what, 62);
    for (int p = n; p < 10; p++)
    {
        putc(' ');
    }

    while (n)
    {
        putc(num[--n]);
    }

    puts(" ns\n");
}

int main(u32 info)
{
#ifndef __x86_64__
    for (u32 i = 0; i < 1024; i++)
    {
        page_dir[i] = (i << 22) | 0x83 | (i >= 768 ? 0x18 : 0); /* P, RW, PS; PWT PCD from 3 GiB */
    }
#endif

    paging_on();
    gdt_load();
    idt_init();
    idt_set(6, isr_ud);
    idt_set(VECTOR_PONG, isr_41);
    idt_set(VECTOR_PING, isr_42);
    idt_set(VECTOR_SELF, isr_43);
    idt_load();
    lapic_enable();

    vmm_mmio = virtio_find(info, 3); /* the virtio console */
    if (!vmm_mmio)
    {
        vmm_mmio = PC_TESTDEV_MMIO;
        mmio_write(vmm_mmio, 0x74726976);
    }

    if (mmio_read(vmm_mmio) != 0x74726976)
    {
        die("no VMM MMIO device (virtio-mmio or pc-testdev)");
    }

    mmio_write(IOAPIC, 1); /* IOREGSEL: the version register */
    outb(PIC_IMR, 0xFB);

    for (u32 i = 0; i < (u32)(ap_tramp_end - ap_tramp); i++)
    {
        ((volatile char *)(ureg)AP_TRAMP)[i] = ap_tramp[i];
    }

    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, 0x000C4500); /* INIT, assert, all excluding self */
    lapic_wait_icr();
    for (int s = 0; s < 2; s++)
    {
        lapic_write(LAPIC_ICR_LO, 0x000C4600 | (AP_TRAMP >> 12)); /* SIPI */
        lapic_wait_icr();
    }

    for (u32 spins = 0; !__atomic_load_n(&ap_online, __ATOMIC_ACQUIRE); spins++)
    {
        if (spins == 0x10000000u)
        {
            die("the AP did not start");
        }

        __asm__ volatile("pause");
    }

    ap_id = lapic_read(LAPIC_ID) >> 24 == 0 ? 1 : 0;
    __asm__ volatile("sti");
    u32 tsc50 = tsc_per_50ms();
    ticks_of(ROW_VMCALL, 1); /* how VMCALL is answered here (ud_vmcalls) */

    puts("exit round trips: ");
    putdec(ROUNDS);
    puts(" each after ");
    putdec(WARMUP);
    puts(" untimed; median of ");
    putdec(BATCHES);
    puts(" batches; TSC at ");
    putdec(tsc50 / 50000);
#ifdef __x86_64__
    puts(" MHz (PIT), 2 vCPUs, long mode\n");
#else
    puts(" MHz (PIT), 2 vCPUs, paging on\n");
#endif

    if (ROWS & 1)
        report("out-vmm", "OUT to a VMM device's port (16550A scratch, 0x3FF)", ROW_OUT_VMM, tsc50);
    if (ROWS & 2)
        report("in-kernel", "IN from an in-kernel device's port (PIC IMR, 0x21)", ROW_IN_KERNEL, tsc50);
    if (ROWS & 4)
        report("mmio-ioapic", "MMIO read of the IOAPIC (IOWIN, version)", ROW_MMIO_IOAPIC, tsc50);
    if (ROWS & 8)
        report("mmio-vmm", vmm_mmio == PC_TESTDEV_MMIO ? "MMIO read served by a VMM device (pc-testdev)"
                                                       : "MMIO read served by a VMM device (virtio-mmio)",
               ROW_MMIO_VMM, tsc50);
    if (ROWS & 16)
        report("eoi", "EOI of an interrupt (local APIC EOI of a self IPI)", ROW_EOI, tsc50);
    if (ROWS & 32)
        report("ipi", "IPI to the other vCPU and back (fixed, both in HLT)", ROW_IPI, tsc50);
    if (ROWS & 64)
        report("vmcall", ud_vmcalls ? "hypercall: VMCALL, unknown number (#UD in the guest)"
                                    : "hypercall: VMCALL, unknown number (-KVM_ENOSYS)",
               ROW_VMCALL, tsc50);

    __asm__ volatile("cli");
    puts("ALL PASS\n");
    return 0;
}

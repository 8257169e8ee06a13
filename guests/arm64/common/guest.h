/* Shared helpers of the SMP guests (demo, sgi, its, pmu, pci): MMIO accessors, PSCI over HVC, PL011 output. */
#ifndef SOFTKVM_GUEST_H
#define SOFTKVM_GUEST_H

typedef unsigned long u64;
typedef unsigned int u32;

#define UART_BASE 0x09000000UL
#define GICD_BASE 0x08000000UL
#define GICR_BASE 0x080A0000UL
#define GICR_STRIDE 0x20000UL

#define PSCI_CPU_OFF 0x84000002UL
#define PSCI_CPU_ON 0xC4000003UL
#define PSCI_AFFINITY_INFO 0xC4000004UL
#define PSCI_SYSTEM_OFF 0x84000008UL

extern void secondary_entry(void);

static inline u32 rd32(u64 a) { return *(volatile u32 *)a; }
static inline void wr32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline u64 rd64(u64 a) { return *(volatile u64 *)a; }

static inline long psci(u64 fn, u64 a1, u64 a2, u64 a3)
{
    register u64 x0 __asm__("x0") = fn;
    register u64 x1 __asm__("x1") = a1;
    register u64 x2 __asm__("x2") = a2;
    register u64 x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     :
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                       "x16", "x17", "memory");
    return (long)x0;
}

static inline void putc_raw(char c)
{
    while (rd32(UART_BASE + 0x18) & (1u << 5)) /* UARTFR.TXFF */
        ;
    wr32(UART_BASE, (u32)(unsigned char)c);
}

static inline void puts_raw(const char *s)
{
    while (*s) {
        if (*s == '\n')
            putc_raw('\r');
        putc_raw(*s++);
    }
}

#define GICR_BASE2 0x4000000000UL /* the second redistributor region (vCPUs 123 and up) */

static inline void put_dec(u64 v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_raw(buf[--n]);
}

/* KVM's vCPU id -> MPIDR affinity: Aff0 = id[3:0], Aff1 = id[11:4]. */
static inline u64 affinity_of(u64 id) { return (id & 0xf) | ((id >> 4 & 0xff) << 8); }

static inline u64 my_affinity(void)
{
    u64 v;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v));
    return v & 0xffffff;
}

/* The GICv3 redistributor whose GICR_TYPER names affinity aff, in QEMU virt's two regions; 0 if none. */
static inline u64 find_redistributor(u64 aff)
{
    u64 rd = GICR_BASE;
    for (;;) {
        u64 typer = rd64(rd + 0x8);
        if ((typer >> 32) == aff)
            return rd;
        if (typer & (1u << 4)) { /* Last: the next region, if any */
            if (rd >= GICR_BASE2)
                return 0;
            rd = GICR_BASE2;
        } else {
            rd += GICR_STRIDE;
        }
    }
}

/* Enables this vCPU's GICv3 redistributor (found at rd) and its ICC_* CPU interface; SGIs in group 1. */
static inline void gicv3_cpu_init(u64 rd)
{
    wr32(rd + 0x14, rd32(rd + 0x14) & ~(1u << 1)); /* GICR_WAKER.ProcessorSleep */
    while (rd32(rd + 0x14) & (1u << 2))              /* ChildrenAsleep */
        ;
    wr32(rd + 0x10000 + 0x080, 0xffffffffu); /* GICR_IGROUPR0: group 1 */
    wr32(rd + 0x10000 + 0x100, 0x0000ffffu); /* GICR_ISENABLER0: SGIs */
    u64 sre;
    __asm__ volatile("mrs %0, S3_0_C12_C12_5" : "=r"(sre)); /* ICC_SRE_EL1 */
    __asm__ volatile("msr S3_0_C12_C12_5, %0; isb" ::"r"(sre | 1));
    __asm__ volatile("msr S3_0_C4_C6_0, %0" ::"r"(0xffUL));    /* ICC_PMR_EL1 */
    __asm__ volatile("msr S3_0_C12_C12_7, %0; isb" ::"r"(1UL)); /* ICC_IGRPEN1_EL1 */
}

#endif

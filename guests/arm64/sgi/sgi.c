/*
 * SGI delivery test for the VGIC: vCPU 0 starts every other vCPU with PSCI CPU_ON (ids in KVM's MPIDR
 * order until CPU_ON answers INVALID_PARAMETERS), then sends each one a targeted SGI and waits for its
 * answer, then broadcasts one SGI to all others and counts the answers. Works with a GICv3 (ICC_*
 * system registers, ICC_SGI1R_EL1 with Aff1/Aff2 target lists) or a GICv2 (GICD_SGIR, GICC_IAR/EOIR),
 * chosen by ID_AA64PFR0_EL1.GIC. Prints PASS or FAIL and powers off.
 */
#include "guest.h"

#define GICC_BASE 0x08010000UL

#define PSCI_INVALID_PARAMETERS (-2)

#define SGI_PING 5
#define SGI_PONG 6
#define SGI_ALL 7

static int gic_v3;
static volatile u32 online[MAX_CPUS];
static volatile u32 pings[MAX_CPUS];
static volatile u32 broadcast_hits;

/* ID_AA64PFR0_EL1.GIC: 1 when the GICv3 system-register CPU interface is there (as KVM and QEMU set it). */
static int has_gic_v3(void)
{
    u64 v;
    __asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(v));
    return (v >> 24 & 0xf) != 0;
}

static void gic_cpu_init(void)
{
    if (gic_v3) {
        u64 rd = find_redistributor(my_affinity());
        if (!rd) {
            puts_raw("FAIL: no redistributor\n");
            psci(PSCI_SYSTEM_OFF, 0, 0, 0);
        }
        gicv3_cpu_init(rd);
    } else {
        wr32(GICD_BASE + 0x100, 0x0000ffffu); /* GICD_ISENABLER0 (banked): SGIs */
        wr32(GICC_BASE + 0x4, 0xff);          /* GICC_PMR */
        wr32(GICC_BASE + 0x0, 1);             /* GICC_CTLR: enable */
    }
}

static void send_sgi(u64 target_id, u32 intid, int broadcast)
{
    if (gic_v3) {
        u64 aff = affinity_of(target_id);
        u64 v = (u64)intid << 24;
        if (broadcast)
            v |= 1UL << 40;
        else
            v |= ((aff >> 8 & 0xff) << 16) | (1UL << (aff & 0xf));
        __asm__ volatile("dsb ish; msr S3_0_C12_C11_5, %0; isb" ::"r"(v));
    } else {
        u32 v = broadcast ? (1u << 24) | intid : ((1u << target_id) << 16) | intid;
        __asm__ volatile("dsb ish" ::: "memory");
        wr32(GICD_BASE + 0xf00, v); /* GICD_SGIR */
    }
}

static u32 wait_sgi(void)
{
    for (;;) {
        u32 iar;
        if (gic_v3) {
            u64 v;
            __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v));
            iar = (u32)v;
        } else {
            iar = rd32(GICC_BASE + 0xc);
        }
        u32 intid = iar & 0x3ff;
        if (intid < 1020) {
            if (gic_v3)
                __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"((u64)iar));
            else
                wr32(GICC_BASE + 0x10, iar);
            return intid;
        }
        __asm__ volatile("wfi");
    }
}

void secondary_main(u64 id)
{
    gic_cpu_init();
    __atomic_store_n(&online[id], 1, __ATOMIC_RELEASE);
    for (;;) {
        u32 intid = wait_sgi();
        if (intid == SGI_PING) {
            __atomic_fetch_add(&pings[id], 1, __ATOMIC_ACQ_REL);
            send_sgi(0, SGI_PONG, 0);
        } else if (intid == SGI_ALL) {
            __atomic_fetch_add(&broadcast_hits, 1, __ATOMIC_ACQ_REL);
        }
    }
}

static void fail(const char *what, u64 id)
{
    puts_raw("FAIL: ");
    puts_raw(what);
    puts_raw(" vCPU ");
    put_dec(id);
    puts_raw("\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

void primary_main(void)
{
    wr32(UART_BASE + 0x30, 0x301);
    gic_v3 = has_gic_v3();
    wr32(GICD_BASE, gic_v3 ? (1u << 4) | (1u << 1) | 1u : 1u);
    gic_cpu_init();

    u64 n = 1;
    while (n < MAX_CPUS) {
        long r = psci(PSCI_CPU_ON, affinity_of(n), (u64)secondary_entry, n);
        if (r == PSCI_INVALID_PARAMETERS)
            break;
        if (r != 0)
            fail("CPU_ON", n);
        while (!__atomic_load_n(&online[n], __ATOMIC_ACQUIRE))
            ;
        n++;
    }

    puts_raw(gic_v3 ? "GICv3: " : "GICv2: ");
    put_dec(n);
    puts_raw(" vCPUs online\n");

    for (u64 i = 1; i < n; i++) {
        send_sgi(i, SGI_PING, 0);
        if (wait_sgi() != SGI_PONG || __atomic_load_n(&pings[i], __ATOMIC_ACQUIRE) != 1)
            fail("targeted SGI", i);
    }
    puts_raw("targeted SGIs answered: ");
    put_dec(n - 1);
    puts_raw("\n");

    send_sgi(0, SGI_ALL, 1);
    while (__atomic_load_n(&broadcast_hits, __ATOMIC_ACQUIRE) != n - 1)
        ;
    puts_raw("broadcast SGI reached: ");
    put_dec(n - 1);
    puts_raw("\nPASS\n");
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}

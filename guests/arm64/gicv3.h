/*
 * The single-vCPU interrupt guests' GICv3 (timer, gdbirq), at QEMU virt's addresses (-M virt,gic-version=3):
 * system-register accessors and the bring-up of the distributor, the redistributor and the CPU interface.
 */
#ifndef SOFTKVM_GUEST_GICV3_H
#define SOFTKVM_GUEST_GICV3_H

#include "lib.h"

#define GICD 0x08000000UL
#define GICR 0x080A0000UL
#define GICR_SGI (GICR + 0x10000UL)

#define REG32(a) (*(volatile u32 *)(a))
#define SYSREG_WRITE(name, v) __asm__ volatile("msr " name ", %0" : : "r"((u64)(v)) : "memory")
#define SYSREG_READ(name) ({ u64 _v; __asm__ volatile("mrs %0, " name : "=r"(_v) : : "memory"); _v; })

/*
 * Group 1 on in the distributor, this vCPU's redistributor awake, every SGI and PPI in Group 1, the INTIDs
 * of `enable` (a GICR_ISENABLER0 mask) enabled with priority 0x80 (set four at a time), and the ICC_* CPU
 * interface open (SRE, PMR 0xff, IGRPEN1).
 */
static inline void gicv3_init(u32 enable)
{
    REG32(GICD + 0x0) = 0x12; /* GICD_CTLR: ARE, EnableGrp1 */
    REG32(GICR + 0x14) &= ~2u; /* GICR_WAKER.ProcessorSleep = 0 */
    while (REG32(GICR + 0x14) & 4u)
        ;
    REG32(GICR_SGI + 0x80) = 0xffffffffu; /* GICR_IGROUPR0: group 1 */
    for (u32 i = 0; i < 32; i += 4)
        if ((enable >> i) & 0xfu)
            REG32(GICR_SGI + 0x400 + i) = 0x80808080u; /* GICR_IPRIORITYR */
    REG32(GICR_SGI + 0x100) = enable; /* GICR_ISENABLER0 */

    SYSREG_WRITE("s3_0_c12_c12_5", SYSREG_READ("s3_0_c12_c12_5") | 1); /* ICC_SRE_EL1.SRE */
    __asm__ volatile("isb");
    SYSREG_WRITE("s3_0_c4_c6_0", 0xff); /* ICC_PMR_EL1 */
    SYSREG_WRITE("s3_0_c12_c12_7", 1);  /* ICC_IGRPEN1_EL1 */
    __asm__ volatile("isb");
}

#endif

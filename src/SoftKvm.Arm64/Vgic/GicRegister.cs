using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Vgic;

/// <summary>The access widths a GIC register accepts (IHI 0048 §4.1.4, IHI 0069 §12.1.3).</summary>
[Flags]
internal enum AccessWidths
{
    /// <summary>Byte accesses.</summary>
    W8 = 1,

    /// <summary>Halfword accesses.</summary>
    W16 = 2,

    /// <summary>Word accesses.</summary>
    W32 = 4,

    /// <summary>Doubleword accesses.</summary>
    W64 = 8,

    /// <summary>Byte and word (IPRIORITYR, ITARGETSR, CPENDSGIR, SPENDSGIR).</summary>
    W8W32 = W8 | W32,

    /// <summary>Word and doubleword (GICD_IROUTER, GICR_TYPER, GICR_PROPBASER, GICR_PENDBASER).</summary>
    W32W64 = W32 | W64,
}

/// <summary>What a GIC register is: the behaviour behind an offset, shared by the register maps.</summary>
internal enum GicReg
{
    /// <summary>Reads as zero, writes ignored (the spec's RAZ/WI).</summary>
    RazWi,
    /// <summary>GICD_CTLR.</summary>
    DistCtlr,
    /// <summary>GICD_TYPER.</summary>
    DistTyper,
    /// <summary>GICD_IIDR / GICR_IIDR.</summary>
    Iidr,
    /// <summary>GICD_IGROUPR / GICR_IGROUPR0: 1 bit per IRQ.</summary>
    IGroupR,
    /// <summary>GICD_ISENABLER: 1 bit per IRQ, write 1 to set.</summary>
    ISEnableR,
    /// <summary>GICD_ICENABLER: 1 bit per IRQ, write 1 to clear.</summary>
    ICEnableR,
    /// <summary>GICD_ISPENDR.</summary>
    ISPendR,
    /// <summary>GICD_ICPENDR.</summary>
    ICPendR,
    /// <summary>GICD_ISACTIVER.</summary>
    ISActiveR,
    /// <summary>GICD_ICACTIVER.</summary>
    ICActiveR,
    /// <summary>GICD_IPRIORITYR: 8 bits per IRQ.</summary>
    IPriorityR,
    /// <summary>GICD_ITARGETSR (GICv2): 8 bits per IRQ.</summary>
    ITargetsR,
    /// <summary>GICD_ICFGR: 2 bits per IRQ.</summary>
    ICfgR,
    /// <summary>GICD_SGIR (GICv2, write-only).</summary>
    Sgir,
    /// <summary>GICD_CPENDSGIR (GICv2): 8 source bits per SGI, write 1 to clear.</summary>
    CPendSgiR,
    /// <summary>GICD_SPENDSGIR (GICv2): 8 source bits per SGI, write 1 to set.</summary>
    SPendSgiR,
    /// <summary>GICD_IROUTER (GICv3): 64 bits per IRQ.</summary>
    IRouteR,
    /// <summary>GICD_PIDR2 / GICR_PIDR2: the architecture revision.</summary>
    Pidr2,
    /// <summary>GICR_CTLR.</summary>
    RdCtlr,
    /// <summary>GICR_TYPER.</summary>
    RdTyper,
    /// <summary>GICR_WAKER.</summary>
    RdWaker,
    /// <summary>GICR_PROPBASER.</summary>
    RdPropBaser,
    /// <summary>GICR_PENDBASER.</summary>
    RdPendBaser,
    /// <summary>GICR_INVLPIR (write-only).</summary>
    RdInvLpiR,
    /// <summary>GICR_INVALLR (write-only).</summary>
    RdInvAllR,
    /// <summary>GITS_CTLR.</summary>
    ItsCtlr,
    /// <summary>GITS_IIDR.</summary>
    ItsIidr,
    /// <summary>GITS_TYPER.</summary>
    ItsTyper,
    /// <summary>GITS_CBASER.</summary>
    ItsCbaser,
    /// <summary>GITS_CWRITER.</summary>
    ItsCwriter,
    /// <summary>GITS_CREADR.</summary>
    ItsCreadr,
    /// <summary>GITS_BASER0: the device table.</summary>
    ItsBaser0,
    /// <summary>GITS_BASER1: the collection table.</summary>
    ItsBaser1,
    /// <summary>GITS_PIDR0.</summary>
    ItsPidr0,
    /// <summary>GITS_PIDR1.</summary>
    ItsPidr1,
    /// <summary>GITS_PIDR4.</summary>
    ItsPidr4,
    /// <summary>GITS_CIDR0 and GITS_CIDR1 (the low and high word of one doubleword).</summary>
    ItsCidr01,
    /// <summary>GITS_CIDR2 and GITS_CIDR3.</summary>
    ItsCidr23,
    /// <summary>GICC_CTLR.</summary>
    CpuCtlr,
    /// <summary>GICC_PMR.</summary>
    CpuPmr,
    /// <summary>GICC_BPR.</summary>
    CpuBpr,
    /// <summary>GICC_IAR.</summary>
    CpuIar,
    /// <summary>GICC_EOIR.</summary>
    CpuEoir,
    /// <summary>GICC_RPR.</summary>
    CpuRpr,
    /// <summary>GICC_HPPIR.</summary>
    CpuHppir,
    /// <summary>GICC_ABPR.</summary>
    CpuAbpr,
    /// <summary>GICC_APR0.</summary>
    CpuApr,
    /// <summary>GICC_NSAPR0.</summary>
    CpuNsapr,
    /// <summary>GICC_IIDR.</summary>
    CpuIidr,
    /// <summary>GICC_DIR.</summary>
    CpuDir,
}

/// <summary>
/// One register (or per-IRQ register array) of a GIC frame, as the specification lists it.
/// </summary>
/// <param name="Name">The specification's name (GICD_ISENABLER, GICR_TYPER...).</param>
/// <param name="Offset">The offset of the first byte from the frame base.</param>
/// <param name="Length">How many bytes the register or array covers.</param>
/// <param name="Id">The behaviour.</param>
/// <param name="Widths">The access widths allowed; anything else is RAZ/WI.</param>
/// <param name="BitsPerIrq">For per-IRQ arrays, the field width per INTID (1, 2, 8 or 64); 0 otherwise.</param>
/// <param name="FirstIntId">The INTID of the first field (32 for IROUTER-style arrays that start at SPIs).</param>
internal readonly record struct GicRegister(
    string Name, uint Offset, uint Length, GicReg Id, AccessWidths Widths, int BitsPerIrq = 0, int FirstIntId = 0)
{
    /// <summary>Whether this is a per-IRQ array.</summary>
    public bool IsPerIrq => BitsPerIrq != 0;

    /// <summary>Whether an access of <paramref name="size"/> bytes is allowed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Allows(int size) => size switch
    {
        1 => (Widths & AccessWidths.W8) != 0,
        2 => (Widths & AccessWidths.W16) != 0,
        4 => (Widths & AccessWidths.W32) != 0,
        8 => (Widths & AccessWidths.W64) != 0,
        _ => false,
    };
}

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The register maps of the emulated GIC frames, declared as data with the specifications' names:
/// IHI 0048B (GICv2) §4.3 distributor and §4.4 CPU interface; IHI 0069 (GICv3) §12.9 distributor and
/// §12.10/§12.11 redistributor (RD_base and SGI_base in one table, SGI_base at +0x10000 as KVM does
/// since "Use a single IO device per redistributor"). Per-IRQ arrays give their bits per IRQ; an
/// offset that no row covers, an access of a width a row does not allow, or a misaligned access is
/// RAZ/WI (docs/kvm-semantics.md#gic-register-access: a VGIC device never declines an access).
/// </summary>
internal static class GicRegisterMaps
{
    private const AccessWidths W32 = AccessWidths.W32;
    private const AccessWidths W8W32 = AccessWidths.W8W32;
    private const AccessWidths W32W64 = AccessWidths.W32W64;

    /// <summary>The offset of the SGI_base frame inside a GICv3 redistributor.</summary>
    public const uint SgiBase = 0x10000;

    /// <summary>GICv2 distributor, 4 KiB (IHI 0048B Table 4-1).</summary>
    public static RegisterMap V2Distributor { get; } = new(
        "GICv2 distributor",
        new("GICD_CTLR",       0x000, 4,     GicReg.DistCtlr,   W32),
        new("GICD_TYPER",      0x004, 4,     GicReg.DistTyper,  W32),
        new("GICD_IIDR",       0x008, 4,     GicReg.Iidr,       W32),
        new("GICD_IGROUPR",    0x080, 0x80,  GicReg.IGroupR,    W32,   1),
        new("GICD_ISENABLER",  0x100, 0x80,  GicReg.ISEnableR,  W32,   1),
        new("GICD_ICENABLER",  0x180, 0x80,  GicReg.ICEnableR,  W32,   1),
        new("GICD_ISPENDR",    0x200, 0x80,  GicReg.ISPendR,    W32,   1),
        new("GICD_ICPENDR",    0x280, 0x80,  GicReg.ICPendR,    W32,   1),
        new("GICD_ISACTIVER",  0x300, 0x80,  GicReg.ISActiveR,  W32,   1),
        new("GICD_ICACTIVER",  0x380, 0x80,  GicReg.ICActiveR,  W32,   1),
        new("GICD_IPRIORITYR", 0x400, 0x3fc, GicReg.IPriorityR, W8W32, 8),
        new("GICD_ITARGETSR",  0x800, 0x3fc, GicReg.ITargetsR,  W8W32, 8),
        new("GICD_ICFGR",      0xc00, 0x100, GicReg.ICfgR,      W32,   2),
        new("GICD_NSACR",      0xe00, 0x100, GicReg.RazWi,      W32),                // no Security Extensions: RAZ/WI
        new("GICD_SGIR",       0xf00, 4,     GicReg.Sgir,       W32),                // write-only
        new("GICD_CPENDSGIR",  0xf10, 0x10,  GicReg.CPendSgiR,  W8W32, 8),
        new("GICD_SPENDSGIR",  0xf20, 0x10,  GicReg.SPendSgiR,  W8W32, 8),
        new("GICD_PIDR4-7",    0xfd0, 0x10,  GicReg.RazWi,      W32),
        new("GICD_PIDR0-1",    0xfe0, 8,     GicReg.RazWi,      W32),
        new("GICD_PIDR2",      0xfe8, 4,     GicReg.Pidr2,      W32),
        new("GICD_PIDR3",      0xfec, 4,     GicReg.RazWi,      W32),
        new("GICD_CIDR0-3",    0xff0, 0x10,  GicReg.RazWi,      W32));

    /// <summary>
    /// GICv3 distributor, 64 KiB (IHI 0069 Table 12-25), with affinity routing always on (ARE=1):
    /// the parts of the per-IRQ arrays that cover INTIDs 0..31 are RAZ/WI (private IRQs live in the
    /// redistributors), and ITARGETSR, SGIR, CPENDSGIR and SPENDSGIR are RAZ/WI.
    /// </summary>
    public static RegisterMap V3Distributor { get; } = new(
        "GICv3 distributor",
        new("GICD_CTLR",        0x0000, 4,      GicReg.DistCtlr,   W32),
        new("GICD_TYPER",       0x0004, 4,      GicReg.DistTyper,  W32),
        new("GICD_IIDR",        0x0008, 4,      GicReg.Iidr,       W32),
        new("GICD_TYPER2",      0x000c, 4,      GicReg.RazWi,      W32),
        new("GICD_STATUSR",     0x0010, 4,      GicReg.RazWi,      W32),
        new("GICD_IGROUPR",     0x0080, 0x80,   GicReg.IGroupR,    W32,    1),
        new("GICD_ISENABLER",   0x0100, 0x80,   GicReg.ISEnableR,  W32,    1),
        new("GICD_ICENABLER",   0x0180, 0x80,   GicReg.ICEnableR,  W32,    1),
        new("GICD_ISPENDR",     0x0200, 0x80,   GicReg.ISPendR,    W32,    1),
        new("GICD_ICPENDR",     0x0280, 0x80,   GicReg.ICPendR,    W32,    1),
        new("GICD_ISACTIVER",   0x0300, 0x80,   GicReg.ISActiveR,  W32,    1),
        new("GICD_ICACTIVER",   0x0380, 0x80,   GicReg.ICActiveR,  W32,    1),
        new("GICD_IPRIORITYR",  0x0400, 0x3fc,  GicReg.IPriorityR, W8W32,  8),
        new("GICD_ITARGETSR",   0x0800, 0x3fc,  GicReg.RazWi,      W8W32),           // ARE=1: RAZ/WI
        new("GICD_ICFGR",       0x0c00, 0x100,  GicReg.ICfgR,      W32,    2),
        new("GICD_IGRPMODR",    0x0d00, 0x80,   GicReg.RazWi,      W32),             // one security state
        new("GICD_NSACR",       0x0e00, 0x100,  GicReg.RazWi,      W32),
        new("GICD_SGIR",        0x0f00, 4,      GicReg.RazWi,      W32),             // ARE=1: RAZ/WI
        new("GICD_CPENDSGIR",   0x0f10, 0x10,   GicReg.RazWi,      W8W32),
        new("GICD_SPENDSGIR",   0x0f20, 0x10,   GicReg.RazWi,      W8W32),
        new("GICD_IROUTER0-31", 0x6000, 0x100,  GicReg.RazWi,      W32W64),          // private IRQs: RAZ/WI
        new("GICD_IROUTER",     0x6100, 0x1ee0, GicReg.IRouteR,    W32W64, 64, 32),
        new("GICD_PIDR4-7",     0xffd0, 0x10,   GicReg.RazWi,      W32),
        new("GICD_PIDR0-1",     0xffe0, 8,      GicReg.RazWi,      W32),
        new("GICD_PIDR2",       0xffe8, 4,      GicReg.Pidr2,      W32),
        new("GICD_PIDR3",       0xffec, 4,      GicReg.RazWi,      W32),
        new("GICD_CIDR0-3",     0xfff0, 0x10,   GicReg.RazWi,      W32));

    /// <summary>
    /// GICv3 redistributor: RD_base (IHI 0069 Table 12-27) and SGI_base at +0x10000 (Table 12-28), in
    /// one table for the single 128 KiB IO device. The per-IRQ arrays cover this vCPU's INTIDs 0..31.
    /// </summary>
    public static RegisterMap V3Redistributor { get; } = new(
        "GICv3 redistributor",
        new("GICR_CTLR",        0x0000,           4,    GicReg.RdCtlr,      W32),
        new("GICR_IIDR",        0x0004,           4,    GicReg.Iidr,        W32),
        new("GICR_TYPER",       0x0008,           8,    GicReg.RdTyper,     W32W64),
        new("GICR_STATUSR",     0x0010,           4,    GicReg.RazWi,       W32),
        new("GICR_WAKER",       0x0014,           4,    GicReg.RdWaker,     W32),
        new("GICR_PROPBASER",   0x0070,           8,    GicReg.RdPropBaser, W32W64),
        new("GICR_PENDBASER",   0x0078,           8,    GicReg.RdPendBaser, W32W64),
        new("GICR_PIDR4-7",     0xffd0,           0x10, GicReg.RazWi,       W32),
        new("GICR_PIDR0-1",     0xffe0,           8,    GicReg.RazWi,       W32),
        new("GICR_PIDR2",       0xffe8,           4,    GicReg.Pidr2,       W32),
        new("GICR_PIDR3",       0xffec,           4,    GicReg.RazWi,       W32),
        new("GICR_CIDR0-3",     0xfff0,           0x10, GicReg.RazWi,       W32),
        new("GICR_IGROUPR0",    SgiBase + 0x0080, 4,    GicReg.IGroupR,     W32,   1),
        new("GICR_ISENABLER0",  SgiBase + 0x0100, 4,    GicReg.ISEnableR,   W32,   1),
        new("GICR_ICENABLER0",  SgiBase + 0x0180, 4,    GicReg.ICEnableR,   W32,   1),
        new("GICR_ISPENDR0",    SgiBase + 0x0200, 4,    GicReg.ISPendR,     W32,   1),
        new("GICR_ICPENDR0",    SgiBase + 0x0280, 4,    GicReg.ICPendR,     W32,   1),
        new("GICR_ISACTIVER0",  SgiBase + 0x0300, 4,    GicReg.ISActiveR,   W32,   1),
        new("GICR_ICACTIVER0",  SgiBase + 0x0380, 4,    GicReg.ICActiveR,   W32,   1),
        new("GICR_IPRIORITYR",  SgiBase + 0x0400, 0x20, GicReg.IPriorityR,  W8W32, 8),
        new("GICR_ICFGR0-1",    SgiBase + 0x0c00, 8,    GicReg.ICfgR,       W32,   2),
        new("GICR_IGRPMODR0",   SgiBase + 0x0d00, 4,    GicReg.RazWi,       W32),    // one security state
        new("GICR_NSACR",       SgiBase + 0x0e00, 4,    GicReg.RazWi,       W32));

    /// <summary>GICv2 CPU interface, 8 KiB (IHI 0048B Table 4-2), without Security Extensions.</summary>
    public static RegisterMap V2CpuInterface { get; } = new(
        "GICv2 CPU interface",
        new("GICC_CTLR",    0x0000, 4,   GicReg.CpuCtlr,  W32),
        new("GICC_PMR",     0x0004, 4,   GicReg.CpuPmr,   W32),
        new("GICC_BPR",     0x0008, 4,   GicReg.CpuBpr,   W32),
        new("GICC_IAR",     0x000c, 4,   GicReg.CpuIar,   W32),
        new("GICC_EOIR",    0x0010, 4,   GicReg.CpuEoir,  W32),
        new("GICC_RPR",     0x0014, 4,   GicReg.CpuRpr,   W32),
        new("GICC_HPPIR",   0x0018, 4,   GicReg.CpuHppir, W32),
        new("GICC_ABPR",    0x001c, 4,   GicReg.CpuAbpr,  W32),
        new("GICC_APR0",    0x00d0, 4,   GicReg.CpuApr,   W32),
        new("GICC_APR1-3",  0x00d4, 0xc, GicReg.RazWi,    W32),                    // five priority bits: one APR
        new("GICC_NSAPR0",  0x00e0, 4,   GicReg.CpuNsapr, W32),
        new("GICC_NSAPR1-3", 0x00e4, 0xc, GicReg.RazWi,   W32),
        new("GICC_IIDR",    0x00fc, 4,   GicReg.CpuIidr,  W32),
        new("GICC_DIR",     0x1000, 4,   GicReg.CpuDir,   W32));
}

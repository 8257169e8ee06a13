namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The whole state of a <see cref="Vgic"/> as plain data, for save and restore (KVM saves it through
/// the device-attribute register groups; here it is one record). Addresses are configuration, not state.
/// </summary>
/// <param name="Model">The GIC model it was taken from.</param>
/// <param name="VcpuCount">The vCPU count it was taken from.</param>
/// <param name="SpiCount">The SPI count it was taken from.</param>
/// <param name="Group0Enabled">GICD_CTLR.EnableGrp0.</param>
/// <param name="Group1Enabled">GICD_CTLR.EnableGrp1.</param>
/// <param name="PrivateIrqs">Per vCPU, its 32 private interrupts.</param>
/// <param name="Spis">The SPIs.</param>
/// <param name="CpuInterfaces">Per vCPU, its CPU interface.</param>
/// <param name="Redistributors">Per vCPU, its GICv3 redistributor's RD_base registers (empty for GICv2 or before init).</param>
public sealed record VgicState(
    GicModel Model,
    int VcpuCount,
    int SpiCount,
    bool Group0Enabled,
    bool Group1Enabled,
    IReadOnlyList<IReadOnlyList<VgicIrqState>> PrivateIrqs,
    IReadOnlyList<VgicIrqState> Spis,
    IReadOnlyList<VgicCpuInterfaceState> CpuInterfaces,
    IReadOnlyList<VgicRedistributorState> Redistributors);

/// <summary>One interrupt's saved state.</summary>
/// <param name="Enabled">Enabled.</param>
/// <param name="PendingLatch">The pending latch.</param>
/// <param name="LineLevel">The input level.</param>
/// <param name="Active">Active.</param>
/// <param name="ActiveVcpu">The vCPU an SPI is active on, or -1.</param>
/// <param name="Edge">Edge-triggered.</param>
/// <param name="Priority">The priority.</param>
/// <param name="Group">The group.</param>
/// <param name="Targets">GICv2 target mask.</param>
/// <param name="Mpidr">GICv3 affinity.</param>
/// <param name="SgiSources">GICv2 SGI pending sources.</param>
public readonly record struct VgicIrqState(
    bool Enabled, bool PendingLatch, bool LineLevel, bool Active, int ActiveVcpu, bool Edge,
    byte Priority, int Group, byte Targets, ulong Mpidr, byte SgiSources);

/// <summary>One CPU interface's saved state (ICC_* or GICC_*).</summary>
/// <param name="PriorityMask">PMR.</param>
/// <param name="Bpr0">BPR0 / GICC_BPR.</param>
/// <param name="Bpr1">BPR1 / GICC_ABPR.</param>
/// <param name="CommonBpr">CBPR.</param>
/// <param name="SplitEoi">EOImode.</param>
/// <param name="Group0Enabled">IGRPEN0 / EnableGrp0.</param>
/// <param name="Group1Enabled">IGRPEN1 / EnableGrp1.</param>
/// <param name="AckCtl">GICv2 AckCtl.</param>
/// <param name="FiqEnable">GICv2 FIQEn.</param>
/// <param name="ActivePriorities0">AP0R0 / GICC_APR0.</param>
/// <param name="ActivePriorities1">AP1R0 / GICC_NSAPR0.</param>
public readonly record struct VgicCpuInterfaceState(
    byte PriorityMask, int Bpr0, int Bpr1, bool CommonBpr, bool SplitEoi, bool Group0Enabled, bool Group1Enabled,
    bool AckCtl, bool FiqEnable, uint ActivePriorities0, uint ActivePriorities1);

/// <summary>One GICv3 redistributor's RD_base state.</summary>
/// <param name="Waker">GICR_WAKER.</param>
/// <param name="PropBaser">GICR_PROPBASER.</param>
/// <param name="PendBaser">GICR_PENDBASER.</param>
public readonly record struct VgicRedistributorState(uint Waker, ulong PropBaser, ulong PendBaser);

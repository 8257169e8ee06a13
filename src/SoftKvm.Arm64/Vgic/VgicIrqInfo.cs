namespace SoftKvm.Arm64.Vgic;

/// <summary>A snapshot of one interrupt's state, as the debug dump shows it.</summary>
/// <param name="IntId">The INTID.</param>
/// <param name="Type">"SGI", "PPI" or "SPI".</param>
/// <param name="Targets">GICv2: the GICD_ITARGETSR CPU mask (0 on GICv3).</param>
/// <param name="Mpidr">GICv3: the affinity Aff2.Aff1.Aff0 (private: the owner's MPIDR; SPI: GICD_IROUTER); 0 on GICv2.</param>
/// <param name="TargetVcpu">The resolved destination vCPU, -1 when none.</param>
/// <param name="Priority">The priority.</param>
/// <param name="Group">The group, 0 or 1.</param>
/// <param name="Enabled">Enabled.</param>
/// <param name="Pending">Pending (latch, level or SGI sources).</param>
/// <param name="PendingLatch">The pending latch alone.</param>
/// <param name="LineLevel">The input line level.</param>
/// <param name="Active">Active.</param>
/// <param name="Edge">Edge-triggered (else level-sensitive).</param>
/// <param name="SgiSources">GICv2 SGIs: the pending source CPUs.</param>
public readonly record struct VgicIrqInfo(
    int IntId,
    string Type,
    byte Targets,
    ulong Mpidr,
    int TargetVcpu,
    byte Priority,
    int Group,
    bool Enabled,
    bool Pending,
    bool PendingLatch,
    bool LineLevel,
    bool Active,
    bool Edge,
    byte SgiSources);

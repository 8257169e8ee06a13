using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The state of one interrupt (KVM's <c>struct vgic_irq</c>): a private IRQ (INTID 0..31) of one vCPU,
/// a shared SPI, or an LPI (INTID 8192 and up) that an ITS created. Mutated only under the owning
/// <see cref="Vgic"/>'s lock.
/// </summary>
internal sealed class VgicIrq
{
    public VgicIrq(int intId, int ownerVcpu)
    {
        IntId = intId;
        OwnerVcpu = ownerVcpu;
        TargetVcpu = ownerVcpu >= 0 ? ownerVcpu : 0;
        Edge = intId < Vgic.NrSgis || intId >= Vgic.MinLpi;
        Enabled = intId < Vgic.NrSgis;
        Group = intId >= Vgic.MinLpi ? 1 : 0;
        if (intId >= Vgic.MinLpi)
        {
            TargetVcpu = -1;
        }
    }

    /// <summary>The INTID.</summary>
    public int IntId { get; }

    /// <summary>The vCPU a private IRQ belongs to; -1 for an SPI.</summary>
    public int OwnerVcpu { get; }

    /// <summary>Whether this is an SPI.</summary>
    public bool IsSpi => OwnerVcpu < 0 && IntId < Vgic.MinLpi;

    /// <summary>Whether this is an LPI: edge-triggered, Group 1, no active state, configured from the property table.</summary>
    public bool IsLpi => IntId >= Vgic.MinLpi;

    /// <summary>LPIs: how many ITS translation entries map this INTID (KVM's refcount); freed at 0.</summary>
    public int LpiReferences { get; set; }

    /// <summary>LPIs: the position in the VGIC's list of pending LPIs, or -1.</summary>
    public int PendingLpiIndex { get; set; } = -1;

    /// <summary>GICD_ISENABLER state.</summary>
    public bool Enabled { get; set; }

    /// <summary>The pending latch: an edge, or a write to GICD_ISPENDR.</summary>
    public bool PendingLatch { get; set; }

    /// <summary>The input line level (level-sensitive interrupts are pending while it is high).</summary>
    public bool LineLevel { get; set; }

    /// <summary>Active (acknowledged and not yet deactivated).</summary>
    public bool Active { get; set; }

    /// <summary>The vCPU that acknowledged an active SPI; -1 when none.</summary>
    public int ActiveVcpu { get; set; } = -1;

    /// <summary>Edge-triggered (GICD_ICFGR field 0b10) rather than level-sensitive.</summary>
    public bool Edge { get; set; }

    /// <summary>The priority (top <see cref="Vgic.PriorityBits"/> bits kept).</summary>
    public byte Priority { get; set; }

    /// <summary>The group: 0 or 1.</summary>
    public int Group { get; set; }

    /// <summary>GICv2 only: the GICD_ITARGETSR CPU mask.</summary>
    public byte Targets { get; set; }

    /// <summary>GICv3 only: the affinity Aff2.Aff1.Aff0 (private: its vCPU's MPIDR; SPI: GICD_IROUTER).</summary>
    public ulong Mpidr { get; set; }

    /// <summary>The resolved destination (KVM's <c>target_vcpu</c>); -1 when none.</summary>
    public int TargetVcpu { get; set; }

    /// <summary>GICv2 SGIs: whether the pending state is kept per source CPU (GICD_SPENDSGIR).</summary>
    public bool TracksSgiSources { get; set; }

    /// <summary>GICv2 SGIs: one pending bit per source vCPU.</summary>
    public byte SgiSources { get; set; }

    /// <summary>Whether the interrupt is pending (the latch, the sources of a GICv2 SGI, or a high level).</summary>
    public bool Pending
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TracksSgiSources ? SgiSources != 0 : PendingLatch || (!Edge && LineLevel);
    }

    /// <summary>The type as KVM's vgic-state file names it.</summary>
    public string TypeName => IntId < Vgic.NrSgis ? "SGI" : IntId < Vgic.NrPrivateIrqs ? "PPI" : IsLpi ? "LPI" : "SPI";
}

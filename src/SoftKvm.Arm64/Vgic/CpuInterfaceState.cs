namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The CPU interface of one vCPU (GICC_* for GICv2, ICC_* for GICv3): priority mask, binary points,
/// control bits and the active-priority registers. Mutated only under the <see cref="Vgic"/>'s lock.
/// </summary>
internal sealed class CpuInterfaceState
{
    /// <summary>The smallest ICC_BPR0 / GICC_BPR with five priority bits (IHI 0069 §4.8, IHI 0048 §3.3).</summary>
    public const int MinBpr0 = 2;

    /// <summary>The smallest ICC_BPR1 / GICC_ABPR: one more than BPR0's minimum.</summary>
    public const int MinBpr1 = 3;

    /// <summary>ICC_PMR_EL1 / GICC_PMR: only priorities below it are signalled.</summary>
    public byte PriorityMask { get; set; }

    /// <summary>ICC_BPR0_EL1 / GICC_BPR.</summary>
    public int Bpr0 { get; set; } = MinBpr0;

    /// <summary>ICC_BPR1_EL1 / GICC_ABPR.</summary>
    public int Bpr1 { get; set; } = MinBpr1;

    /// <summary>ICC_CTLR_EL1.CBPR / GICC_CTLR.CBPR: BPR0 controls both groups.</summary>
    public bool CommonBpr { get; set; }

    /// <summary>ICC_CTLR_EL1.EOImode / GICC_CTLR.EOImodeNS: EOI drops priority only, DIR deactivates.</summary>
    public bool SplitEoi { get; set; }

    /// <summary>ICC_IGRPEN0_EL1 / GICC_CTLR.EnableGrp0.</summary>
    public bool Group0Enabled { get; set; }

    /// <summary>ICC_IGRPEN1_EL1 / GICC_CTLR.EnableGrp1.</summary>
    public bool Group1Enabled { get; set; }

    /// <summary>GICv2 GICC_CTLR.AckCtl: GICC_IAR also acknowledges Group 1.</summary>
    public bool AckCtl { get; set; }

    /// <summary>GICv2 GICC_CTLR.FIQEn: Group 0 is signalled as FIQ.</summary>
    public bool FiqEnable { get; set; }

    /// <summary>ICC_AP0R0_EL1 / GICC_APR0: bit n = a Group 0 interrupt of group priority n &lt;&lt; 3 is active.</summary>
    public uint ActivePriorities0 { get; set; }

    /// <summary>ICC_AP1R0_EL1 / GICC_NSAPR0: the same for Group 1.</summary>
    public uint ActivePriorities1 { get; set; }

    /// <summary>The running priority: the highest active group priority, 0xFF when idle.</summary>
    public int RunningPriority
    {
        get
        {
            uint all = ActivePriorities0 | ActivePriorities1;
            return all == 0 ? 0xff : System.Numerics.BitOperations.TrailingZeroCount(all) << 3;
        }
    }

    /// <summary>Whether the CPU interface forwards <paramref name="group"/>.</summary>
    public bool GroupEnabled(int group) => group == 0 ? Group0Enabled : Group1Enabled;

    /// <summary>
    /// The group priority of <paramref name="priority"/> for preemption: bits [7:BPR0+1] for Group 0,
    /// bits [7:BPR1] for Group 1 (BPR1 counts one less), or BPR0's rule for both when CBPR is set.
    /// </summary>
    public int GroupPriority(int priority, int group)
    {
        int shift = group == 0 || CommonBpr ? Bpr0 + 1 : Bpr1;
        return priority & (0xff << shift) & 0xff;
    }

    /// <summary>Marks the group priority of an acknowledged interrupt active.</summary>
    public void SetActivePriority(int groupPriority, int group)
    {
        uint bit = 1u << (groupPriority >> 3);
        if (group == 0)
        {
            ActivePriorities0 |= bit;
        }
        else
        {
            ActivePriorities1 |= bit;
        }
    }

    /// <summary>
    /// Priority drop: clears the highest active priority (the lowest set bit over both groups).
    /// Returns false when nothing was active.
    /// </summary>
    public bool DropPriority()
    {
        uint all = ActivePriorities0 | ActivePriorities1;
        if (all == 0)
        {
            return false;
        }

        uint lowest = all & (0u - all);
        ActivePriorities0 &= ~lowest;
        ActivePriorities1 &= ~lowest;
        return true;
    }
}

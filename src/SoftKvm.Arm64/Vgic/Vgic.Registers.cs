using System.Numerics;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The per-IRQ fields behind the distributor's and redistributors' arrays, and the distributor's
/// whole registers (IHI 0048B §4.3, IHI 0069 §12.9). Called with the VGIC lock held.
/// </summary>
public sealed partial class Vgic
{
    /// <summary>Reads the field of <paramref name="irq"/> in register array <paramref name="id"/>.</summary>
    internal ulong ReadIrqField(GicReg id, VgicIrq irq, int accessor) => id switch
    {
        GicReg.IGroupR => (ulong)irq.Group,
        GicReg.ISEnableR or GicReg.ICEnableR => irq.Enabled ? 1UL : 0,
        GicReg.ISPendR or GicReg.ICPendR => irq.Pending ? 1UL : 0,
        GicReg.ISActiveR or GicReg.ICActiveR => irq.Active ? 1UL : 0,
        GicReg.IPriorityR => irq.Priority,
        GicReg.ITargetsR => irq.IsSpi ? irq.Targets : PrivateTargetMask(accessor),
        GicReg.ICfgR => irq.Edge ? 2UL : 0,
        GicReg.CPendSgiR or GicReg.SPendSgiR => irq.SgiSources,
        GicReg.IRouteR => irq.Mpidr,
        _ => 0,
    };

    /// <summary>Writes the field of <paramref name="irq"/> in register array <paramref name="id"/>.</summary>
    internal void WriteIrqField(GicReg id, VgicIrq irq, ulong value, int accessor)
    {
        bool set = (value & 1) != 0;
        if (!set && id is GicReg.ISEnableR or GicReg.ICEnableR or GicReg.ISPendR or GicReg.ICPendR or GicReg.ISActiveR or GicReg.ICActiveR)
        {
            return; // a 0 bit in a set/clear register changes nothing
        }

        // Routing may change: the vCPUs that could take it before and after are both re-evaluated.
        MarkIrqDirty(irq);
        switch (id)
        {
            case GicReg.IGroupR:
                irq.Group = (int)(value & 1);
                break;
            case GicReg.ISEnableR when set && !irq.TracksSgiSources:
                irq.Enabled = true;
                break;
            case GicReg.ICEnableR when set && !irq.TracksSgiSources: // GICv2 SGIs are always enabled
                irq.Enabled = false;
                break;
            case GicReg.ISPendR when set && !irq.TracksSgiSources:   // GICv2 SGIs: GICD_SPENDSGIR
                irq.PendingLatch = true;
                break;
            case GicReg.ICPendR when set && !irq.TracksSgiSources:
                irq.PendingLatch = false;
                break;
            case GicReg.ISActiveR when set:
                irq.Active = true;
                if (irq.IsSpi)
                {
                    irq.ActiveVcpu = Math.Max(accessor, 0);
                }

                break;
            case GicReg.ICActiveR when set:
                irq.Active = false;
                irq.ActiveVcpu = -1;
                break;
            case GicReg.IPriorityR:
                irq.Priority = (byte)(value & PriorityMaskBits);
                break;
            case GicReg.ITargetsR when irq.IsSpi:                      // private: read-only
                irq.Targets = (byte)(value & V2OnlineMask);
                irq.TargetVcpu = irq.Targets == 0 ? 0 : BitOperations.TrailingZeroCount((uint)irq.Targets);
                break;
            case GicReg.ICfgR when irq.IsSpi:                          // SGIs and PPIs: fixed
                irq.Edge = (value & 2) != 0;
                break;
            case GicReg.SPendSgiR:
                irq.SgiSources |= (byte)(value & V2OnlineMask);
                break;
            case GicReg.CPendSgiR:
                irq.SgiSources &= (byte)~value;
                break;
            case GicReg.IRouteR:
                // Aff2.Aff1.Aff0 are kept; Aff3 and the rest are RAZ/WI. Interrupt_Routing_Mode (bit 31)
                // too: KVM implements no 1-of-N routing (docs/kvm-semantics.md#gicv3-irouter-routing-mode).
                irq.Mpidr = value & 0xff_ffff;
                irq.TargetVcpu = FindVcpuByAffinity(irq.Mpidr);
                break;
        }

        MarkIrqDirty(irq);
    }

    /// <summary>
    /// GICv2: the CPU mask of the online vCPUs (VcpuCount &lt;= 8 was checked at creation). Zero for
    /// GICv3, which never builds a v2 mask: a shift by a vCPU index of 32 or more would wrap in C#.
    /// </summary>
    internal uint V2OnlineMask => Model == GicModel.V2 ? (1u << VcpuCount) - 1 : 0;

    // GICv2 GICD_ITARGETSR0..7: each byte reads as the accessing CPU's own bit
    // (docs/kvm-semantics.md#vgic-private-irq-affinity); the index is range-checked so no mask is ever built
    // for a vCPU outside 0..7.
    private static ulong PrivateTargetMask(int accessor)
    {
        int v = Math.Max(accessor, 0);
        return v < MaxVcpusV2 ? 1UL << v : 0;
    }

    // GICD_TYPER.ITLinesNumber: 32 * (N + 1) INTIDs are covered.
    private uint ItLinesNumber => (uint)((NrIrqs + 31) / 32 - 1);

    /// <summary>The distributor's whole registers.</summary>
    internal ulong ReadDistributorRegister(GicReg id) => id switch
    {
        GicReg.DistCtlr => (_distGroup0Enabled ? 1UL : 0) | (_distGroup1Enabled ? 2UL : 0) |
                           (Model == GicModel.V3 ? (1UL << 4) | (1UL << 6) : 0), // ARE and DS read 1
        GicReg.DistTyper => DistributorTyper(HasIts),
        GicReg.Iidr => Iidr,
        GicReg.Pidr2 => Model == GicModel.V2 ? 0x2bUL : 0x3bUL,
        _ => 0,
    };

    /// <summary>GICD_TYPER, with an ITS or without one (the only input that can change after creation).</summary>
    internal ulong DistributorTyper(bool its) => Model == GicModel.V2
        ? ItLinesNumber | ((uint)(VcpuCount - 1) << 5)
        : ItLinesNumber | ((ulong)((its ? LpiIdBits : SpiIdBits) - 1) << 19) | (its ? 1UL << 17 : 0); // IDbits, LPIS

    /// <summary>Writes the distributor's whole registers; <paramref name="accessor"/> is the writing vCPU (SGIR).</summary>
    internal void WriteDistributorRegister(GicReg id, ulong value, int accessor)
    {
        switch (id)
        {
            case GicReg.DistCtlr:
                _distGroup0Enabled = (value & 1) != 0;
                _distGroup1Enabled = (value & 2) != 0;
                MarkAllDirty();
                break;
            case GicReg.Sgir:
                SendSgiV2Locked(Math.Max(accessor, 0), (uint)value);
                break;
        }
    }

    /// <summary>
    /// The bits of <paramref name="count"/> SPIs from INTID <paramref name="firstIntId"/> (at least 32) in a distributor
    /// set/clear register (enable, pending, active) as <see cref="ReadIrqField"/> gives them one by one, INTIDs past the
    /// last SPI reading 0; false for any other register (lock held). One loop per field rather than ReadIrqField per SPI:
    /// that call for each of 32 SPIs made the GICD_ISENABLER1 row 101 ns against 60 (session 11, measured).
    /// </summary>
    internal bool TryReadSpiBits(GicReg id, int firstIntId, int count, out ulong value)
    {
        value = 0;
        int first = firstIntId - NrPrivateIrqs;
        int n = Math.Min(count, SpiCount - first);
        var spis = _spis;
        switch (id)
        {
            case GicReg.ISEnableR or GicReg.ICEnableR:
                for (int k = 0; k < n; k++)
                {
                    value |= (spis[first + k].Enabled ? 1UL : 0) << k;
                }

                return true;
            case GicReg.ISPendR or GicReg.ICPendR:
                for (int k = 0; k < n; k++)
                {
                    value |= (spis[first + k].Pending ? 1UL : 0) << k;
                }

                return true;
            case GicReg.ISActiveR or GicReg.ICActiveR:
                for (int k = 0; k < n; k++)
                {
                    value |= (spis[first + k].Active ? 1UL : 0) << k;
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>The distributor's view of INTID <paramref name="intId"/> for <paramref name="accessor"/>.</summary>
    internal VgicIrq? ResolveDistributorIrq(int intId, int accessor)
    {
        if (intId < NrPrivateIrqs)
        {
            // GICv2 banks INTIDs 0..31 per accessing CPU; with GICv3 (ARE=1) they are RAZ/WI here.
            int v = Math.Max(accessor, 0);
            return Model == GicModel.V2 && v < VcpuCount ? _private[v][intId] : null;
        }

        return intId < NrIrqs ? _spis[intId - NrPrivateIrqs] : null;
    }
}

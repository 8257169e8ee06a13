namespace SoftKvm.Arm64.Vgic;

/// <summary>Save and restore of the whole state as a <see cref="VgicState"/> record.</summary>
public sealed partial class Vgic
{
    /// <summary>Takes a consistent snapshot of the state (under the lock).</summary>
    public VgicState GetState()
    {
        using (_lock.Hold())
        {
            return new VgicState(
                Model,
                VcpuCount,
                SpiCount,
                _distGroup0Enabled,
                _distGroup1Enabled,
                [.. _private.Select(irqs => (IReadOnlyList<VgicIrqState>)[.. irqs.Select(SaveIrq)])],
                [.. _spis.Select(SaveIrq)],
                [.. _cpu.Select(c => new VgicCpuInterfaceState(
                    c.PriorityMask, c.Bpr0, c.Bpr1, c.CommonBpr, c.SplitEoi, c.Group0Enabled, c.Group1Enabled,
                    c.AckCtl, c.FiqEnable, c.ActivePriorities0, c.ActivePriorities1))],
                [.. _redistributors.Select(r => r.SaveState())]);
        }
    }

    /// <summary>
    /// Restores a snapshot taken from a VGIC of the same model, vCPU count and SPI count; the outputs
    /// of every vCPU are recomputed. Redistributor state is restored when both sides have redistributors.
    /// </summary>
    /// <exception cref="VgicException">the snapshot's shape differs from this VGIC's.</exception>
    public void SetState(VgicState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Model != Model || state.VcpuCount != VcpuCount || state.SpiCount != SpiCount ||
            state.PrivateIrqs.Count != VcpuCount || state.Spis.Count != SpiCount || state.CpuInterfaces.Count != VcpuCount ||
            state.PrivateIrqs.Any(p => p.Count != NrPrivateIrqs))
        {
            throw new VgicException(
                $"VGIC state of GIC{ModelName(state.Model)} with {state.VcpuCount} vCPUs and {state.SpiCount} SPIs " +
                $"does not fit GIC{ModelName(Model)} with {VcpuCount} vCPUs and {SpiCount} SPIs");
        }

        using (_lock.Hold())
        {
            _distGroup0Enabled = state.Group0Enabled;
            _distGroup1Enabled = state.Group1Enabled;
            for (int v = 0; v < VcpuCount; v++)
            {
                for (int i = 0; i < NrPrivateIrqs; i++)
                {
                    RestoreIrq(_private[v][i], state.PrivateIrqs[v][i]);
                }

                var c = state.CpuInterfaces[v];
                var cpu = _cpu[v];
                cpu.PriorityMask = (byte)(c.PriorityMask & PriorityMaskBits);
                cpu.Bpr0 = Math.Clamp(c.Bpr0, CpuInterfaceState.MinBpr0, 7);
                cpu.Bpr1 = Math.Clamp(c.Bpr1, CpuInterfaceState.MinBpr1, 7);
                cpu.CommonBpr = c.CommonBpr;
                cpu.SplitEoi = c.SplitEoi;
                cpu.Group0Enabled = c.Group0Enabled;
                cpu.Group1Enabled = c.Group1Enabled;
                cpu.AckCtl = c.AckCtl;
                cpu.FiqEnable = c.FiqEnable;
                cpu.ActivePriorities0 = c.ActivePriorities0;
                cpu.ActivePriorities1 = c.ActivePriorities1;
            }

            for (int i = 0; i < SpiCount; i++)
            {
                RestoreIrq(_spis[i], state.Spis[i]);
            }

            if (state.Redistributors.Count == _redistributors.Length)
            {
                for (int v = 0; v < _redistributors.Length; v++)
                {
                    _redistributors[v].RestoreState(state.Redistributors[v]);
                }
            }

            MarkAllDirty();
            FlushLocked();
        }
    }

    private static VgicIrqState SaveIrq(VgicIrq irq) => new(
        irq.Enabled, irq.PendingLatch, irq.LineLevel, irq.Active, irq.ActiveVcpu, irq.Edge,
        irq.Priority, irq.Group, irq.Targets, irq.Mpidr, irq.SgiSources);

    private void RestoreIrq(VgicIrq irq, VgicIrqState s)
    {
        irq.Enabled = s.Enabled || irq.TracksSgiSources;   // GICv2 SGIs are always enabled
        irq.PendingLatch = s.PendingLatch;
        irq.LineLevel = s.LineLevel;
        irq.Active = s.Active;
        irq.ActiveVcpu = irq.IsSpi && s.Active ? Math.Clamp(s.ActiveVcpu, -1, VcpuCount - 1) : -1;
        irq.Edge = irq.IntId < NrSgis || (irq.IsSpi ? s.Edge : irq.Edge);
        irq.Priority = (byte)(s.Priority & PriorityMaskBits);
        irq.Group = s.Group & 1;
        if (irq.IsSpi)
        {
            if (Model == GicModel.V2)
            {
                irq.Targets = (byte)(s.Targets & V2OnlineMask);
                irq.TargetVcpu = irq.Targets == 0 ? 0 : System.Numerics.BitOperations.TrailingZeroCount((uint)irq.Targets);
            }
            else
            {
                irq.Mpidr = s.Mpidr & 0xff_ffff;
                irq.TargetVcpu = FindVcpuByAffinity(irq.Mpidr);
            }
        }

        // A private IRQ's affinity is its vCPU's own, set by Init
        // (docs/kvm-semantics.md#vgic-private-irq-affinity): the snapshot does not change it.

        irq.SgiSources = irq.TracksSgiSources ? (byte)(s.SgiSources & V2OnlineMask) : (byte)0;
        MarkIrqDirty(irq);
    }
}

using System.Globalization;
using System.Text;
using SoftKvm.Arm64.Kvm;

namespace SoftKvm.Arm64.Vgic;

/// <summary>The state dump, in the spirit of KVM's debugfs <c>vgic-state</c> file.</summary>
public sealed partial class Vgic
{
    /// <summary>The state of INTID <paramref name="intId"/> as vCPU <paramref name="vcpuId"/> sees it (SPIs and LPIs are shared).</summary>
    /// <exception cref="ArgumentOutOfRangeException">no such vCPU or INTID (an LPI exists while an ITS maps it).</exception>
    public VgicIrqInfo GetIrqInfo(int vcpuId, int intId)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)vcpuId, (uint)VcpuCount, nameof(vcpuId));
        using (_lock.Hold())
        {
            if (intId >= MinLpi && _lpis.TryGetValue(intId, out var lpi))
            {
                return Info(lpi);
            }

            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)intId, (uint)NrIrqs, nameof(intId));
            return Info(intId < NrPrivateIrqs ? _private[vcpuId][intId] : _spis[intId - NrPrivateIrqs]);
        }
    }

    /// <summary>
    /// The whole state as text: the distributor, then per vCPU its CPU interface and private IRQs,
    /// then the SPIs. TARGET is the GICv2 CPU mask or the GICv3 MPIDR affinity
    /// (docs/kvm-semantics.md#vgic-private-irq-affinity).
    /// </summary>
    public string DumpState()
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        using (_lock.Hold())
        {
            sb.Append("Distributor\n===========\n");
            sb.Append(ci, $"vgic_model:\tGIC{ModelName(Model)}\n");
            sb.Append(ci, $"nr_vcpus:\t{VcpuCount}\n");
            sb.Append(ci, $"nr_spis:\t{SpiCount}\n");
            sb.Append(ci, $"initialized:\t{(_initialized ? 1 : 0)}\n");
            sb.Append(ci, $"enabled:\tgrp0={(_distGroup0Enabled ? 1 : 0)} grp1={(_distGroup1Enabled ? 1 : 0)}\n");
            sb.Append("\nP=pending L=line_level A=active E=enabled C=config (E=edge L=level) SRC=GICv2 SGI sources\n");

            for (int v = 0; v < VcpuCount; v++)
            {
                var cpu = _cpu[v];
                sb.Append(ci, $"\nVCPU {v}  MPIDR 0x{Mpidr.FromVcpuId(v):x8}");
                if (Model == GicModel.V3 && _redistributors.Length > v)
                {
                    sb.Append(ci, $"  GICR 0x{_redistributors[v].Base:x}{(_redistributors[v].Last ? " (last)" : "")}");
                }

                sb.Append(ci, $"\n  PMR 0x{cpu.PriorityMask:x2} RPR 0x{cpu.RunningPriority:x2} BPR0 {cpu.Bpr0} BPR1 {cpu.Bpr1}");
                sb.Append(ci, $" GRPEN0 {(cpu.Group0Enabled ? 1 : 0)} GRPEN1 {(cpu.Group1Enabled ? 1 : 0)} EOImode {(cpu.SplitEoi ? 1 : 0)}");
                sb.Append(ci, $" AP0R0 0x{cpu.ActivePriorities0:x} AP1R0 0x{cpu.ActivePriorities1:x}");
                sb.Append(ci, $" IRQ {_irqOut[v]} FIQ {_fiqOut[v]}\n");
                AppendHeader(sb);
                foreach (var irq in _private[v])
                {
                    AppendIrq(sb, irq);
                }
            }

            if (SpiCount > 0)
            {
                sb.Append("\nSPIs\n");
                AppendHeader(sb);
                foreach (var irq in _spis)
                {
                    AppendIrq(sb, irq);
                }
            }

            if (_hasIts)
            {
                sb.Append(ci, $"\nLPIs (PROPBASER 0x{_propBaser:x})\n");
                foreach (var its in _its)
                {
                    sb.Append("  ").Append(its.DescribeLocked()).Append('\n');
                }

                for (int v = 0; v < VcpuCount; v++)
                {
                    if (_lpisEnabled[v] || _pendBaser[v] != 0)
                    {
                        sb.Append(ci, $"  VCPU {v}: EnableLPIs {(_lpisEnabled[v] ? 1 : 0)} PENDBASER 0x{_pendBaser[v]:x}\n");
                    }
                }

                AppendHeader(sb);
                foreach (var irq in _lpis.Values.OrderBy(i => i.IntId))
                {
                    AppendIrq(sb, irq);
                }
            }
        }

        return sb.ToString();
    }

    private static void AppendHeader(StringBuilder sb) =>
        sb.Append("  TYPE INTID TARGET    VCPU PRI GRP P L A E C SRC\n");

    private void AppendIrq(StringBuilder sb, VgicIrq irq)
    {
        var ci = CultureInfo.InvariantCulture;
        string target = Model == GicModel.V2
            ? string.Create(ci, $"0x{irq.Targets:x2}")
            : string.Create(ci, $"0x{irq.Mpidr:x6}");
        sb.Append(ci, $"  {irq.TypeName,-4} {irq.IntId,5} {target,-9} {irq.TargetVcpu,4} {irq.Priority,3} {irq.Group,3} ");
        sb.Append(ci, $"{(irq.Pending ? 1 : 0)} {(irq.LineLevel ? 1 : 0)} {(irq.Active ? 1 : 0)} {(irq.Enabled ? 1 : 0)} {(irq.Edge ? 'E' : 'L')}");
        sb.Append(ci, $" {(irq.TracksSgiSources ? $"0x{irq.SgiSources:x2}" : "-")}\n");
    }

    private static VgicIrqInfo Info(VgicIrq irq) => new(
        irq.IntId, irq.TypeName, irq.Targets, irq.Mpidr, irq.TargetVcpu, irq.Priority, irq.Group,
        irq.Enabled, irq.Pending, irq.PendingLatch, irq.LineLevel, irq.Active, irq.Edge, irq.SgiSources);
}

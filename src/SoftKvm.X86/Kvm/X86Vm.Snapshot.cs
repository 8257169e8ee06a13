using SoftKvm.Core.Snapshots;
using SoftKvm.X86.Irqchip;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// The x86 part of a VM snapshot (docs/snapshots.md): section <c>X86V</c> (vCPU count, TSC frequency,
/// whether there is an in-kernel irqchip), one <c>VCPU</c> section per vCPU (with its local APIC), and
/// <c>IRQC</c> with the IOAPIC, the PIC pair and the PIT. Host-time deadlines (APIC timer, PIT) are saved as
/// time left and continue from the restore.
/// </summary>
public sealed partial class X86Vm
{
    /// <inheritdoc />
    protected override void SaveArchState(SnapshotWriter writer)
    {
        long now = Clock.Timestamp();
        var w = writer.BeginSection("X86V");
        w.Write(Vcpus.Count);
        w.Write(TscFrequency);
        w.Write(Irqchip is not null);
        writer.EndSection();
        foreach (var v in Vcpus)
        {
            ((X86Vcpu)v).SaveSnapshot(writer.BeginSection("VCPU"), now);
            writer.EndSection();
        }

        w = writer.BeginSection("IRQC");
        if (Irqchip is { } chip)
        {
            chip.IoApic.SaveSnapshot(w);
            chip.Pic.SaveSnapshot(w);
            chip.Pit.SaveSnapshot(w, now);
        }

        writer.EndSection();
    }

    /// <inheritdoc />
    protected override void LoadArchState(SnapshotReader reader)
    {
        long now = Clock.Timestamp();
        using (var r = reader.ReadSection("X86V"))
        {
            int count = r.ReadInt32();
            long tsc = r.ReadInt64();
            bool irqchip = r.ReadBoolean();
            if (count != Vcpus.Count || tsc != TscFrequency || irqchip != Irqchip is not null)
            {
                throw new SnapshotFormatException(
                    $"the snapshot has {count} vCPUs at a {tsc} Hz TSC{(irqchip ? " with" : " without")} an irqchip; this VM has {Vcpus.Count} at {TscFrequency} Hz{(Irqchip is null ? " without" : " with")} one");
            }
        }

        foreach (var v in Vcpus)
        {
            using var r = reader.ReadSection("VCPU");
            ((X86Vcpu)v).LoadSnapshot(r, now);
        }

        using (var r = reader.ReadSection("IRQC"))
        {
            if (Irqchip is { } chip)
            {
                chip.IoApic.LoadSnapshot(r);
                chip.Pic.LoadSnapshot(r);
                chip.Pit.LoadSnapshot(r, now);
            }
        }
    }
}

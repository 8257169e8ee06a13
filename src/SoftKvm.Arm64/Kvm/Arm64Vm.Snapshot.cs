using SoftKvm.Core.Snapshots;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The arm64 part of a VM snapshot (docs/snapshots.md): section <c>A64V</c> (the system counter's value,
/// the vCPU count and the CPU model), one <c>VCPU</c> section per vCPU, and <c>IRQC</c> with the in-kernel
/// interrupt controller (the VGIC and its ITS). The counter goes on from its saved value in the restored
/// VM, so the guest's time (CNTVCT, the timers' CVAL deadlines) continues where it stopped.
/// </summary>
public sealed partial class Arm64Vm
{
    /// <inheritdoc />
    protected override void PrepareSave() => InterruptController?.PrepareSave();

    /// <inheritdoc />
    protected override void SaveArchState(SnapshotWriter writer)
    {
        var w = writer.BeginSection("A64V");
        w.Write(Shared.Counter());
        w.Write(Vcpus.Count);
        w.Write(CpuModel.Spec);
        writer.EndSection();
        foreach (var v in Vcpus)
        {
            ((Arm64Vcpu)v).Save(writer.BeginSection("VCPU"));
            writer.EndSection();
        }

        w = writer.BeginSection("IRQC");
        w.Write(InterruptController?.GetType().Name ?? "");
        InterruptController?.SaveState(w);
        writer.EndSection();
    }

    /// <inheritdoc />
    protected override void LoadArchState(SnapshotReader reader)
    {
        ulong counter;
        using (var r = reader.ReadSection("A64V"))
        {
            counter = r.ReadUInt64();
            int count = r.ReadInt32();
            string model = r.ReadString();
            if (count != Vcpus.Count || model != CpuModel.Spec)
            {
                throw new SnapshotFormatException($"the snapshot has {count} vCPUs of CPU model {model}; this VM has {Vcpus.Count} of {CpuModel.Spec}");
            }
        }

        foreach (var v in Vcpus)
        {
            using var r = reader.ReadSection("VCPU");
            ((Arm64Vcpu)v).Load(r);
        }

        using (var r = reader.ReadSection("IRQC"))
        {
            string controller = r.ReadString();
            string ours = InterruptController?.GetType().Name ?? "";
            if (controller != ours)
            {
                throw new SnapshotFormatException($"the snapshot's VM has the interrupt controller '{controller}', this one '{ours}'");
            }

            InterruptController?.LoadState(r);
        }

        Shared.SetCounter(counter);
    }
}

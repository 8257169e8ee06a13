using SoftKvm.Core.Errors;
using SoftKvm.Core.Snapshots;

namespace SoftKvm.Core;

/// <summary>
/// Save and restore of the VM's own state (docs/snapshots.md): guest memory, every vCPU and the in-kernel
/// devices, written to a <see cref="SnapshotWriter"/> and read back into a VM of the same shape (the same
/// memory slots, vCPUs and in-kernel devices, created but never run). The VMM's devices and the machine
/// description are the VMM's part of the same file.
/// </summary>
public abstract partial class Vm
{
    /// <summary>
    /// Writes the VM's state. Every vCPU must be stopped between runs, with the exits of its last run handled
    /// by the VMM: a pending MMIO or PIO completion is completed first, exactly once, as <c>KVM_RUN</c> with
    /// <c>immediate_exit</c> would, so the saved vCPUs sit at instruction boundaries with nothing outstanding.
    /// Order: the architecture's preparation (for example the ITS tables written into guest memory, as KVM's
    /// <c>KVM_DEV_ARM_ITS_SAVE_TABLES</c>), guest memory, the vCPUs and in-kernel devices, then the statistics
    /// (<see cref="StatsSnapshot"/>: a restored VM's counters go on from the saved ones).
    /// </summary>
    /// <exception cref="VcpuException">a vCPU is running.</exception>
    /// <exception cref="UnsupportedException">this VM's architecture or interrupt controller cannot be saved.</exception>
    public void SaveState(SnapshotWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var v in Vcpus)
        {
            if (v.IsRunning)
            {
                throw new VcpuException($"vCPU {v.Id} is running; a snapshot is taken while every vCPU is stopped");
            }
        }

        foreach (var v in Vcpus)
        {
            v.CompletePendingForSnapshot();
        }

        PrepareSave();
        GuestMemorySnapshot.Save(Memory, writer);
        SaveArchState(writer);
        StatsSnapshot.Save(this, writer);
    }

    /// <summary>
    /// Reads a state written by <see cref="SaveState"/> into this VM, which must have the same memory slots,
    /// vCPUs and in-kernel devices and must not have run: guest memory, then the vCPUs and in-kernel devices.
    /// The restored vCPUs start with empty software TLBs and code caches.
    /// </summary>
    /// <exception cref="SnapshotFormatException">the state does not fit this VM, or the file is corrupt.</exception>
    public void LoadState(SnapshotReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        GuestMemorySnapshot.Load(Memory, reader);
        LoadArchState(reader);
        StatsSnapshot.Load(this, reader);
        foreach (var v in Vcpus)
        {
            v.MakeRequest(VcpuRequest.TlbFlush);
        }
    }

    /// <summary>Puts state that lives in the hypervisor but is saved in guest memory there, before memory is written.</summary>
    protected virtual void PrepareSave()
    {
    }

    /// <summary>Writes the vCPUs and in-kernel devices (after guest memory).</summary>
    protected virtual void SaveArchState(SnapshotWriter writer) =>
        throw new UnsupportedException($"{GetType().Name} has no snapshot support");

    /// <summary>Reads what <see cref="SaveArchState"/> wrote (guest memory is restored already).</summary>
    protected virtual void LoadArchState(SnapshotReader reader) =>
        throw new UnsupportedException($"{GetType().Name} has no snapshot support");
}

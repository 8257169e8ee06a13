using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using SoftKvm.Core.Snapshots;
using SoftKvm.Vmm.Runner;

namespace SoftKvm.Vmm.Machines;

/// <summary>A created machine: the VM, its vCPUs and the VMM's (userspace) device buses.</summary>
public interface IMachine : IDisposable
{
    /// <summary>The VM (memory, in-kernel devices, statistics).</summary>
    Vm Vm { get; }

    /// <summary>The vCPUs to run, one host thread each (vCPUs that start powered off wait inside Run).</summary>
    IReadOnlyList<Vcpu> Vcpus { get; }

    /// <summary>The userspace MMIO bus: the devices that <c>KVM_EXIT_MMIO</c> reaches.</summary>
    IoBus MmioBus { get; }

    /// <summary>The userspace PIO bus: the devices that <c>KVM_EXIT_IO</c> reaches.</summary>
    IoBus PioBus { get; }

    /// <summary>The device tree the guest got, or null.</summary>
    byte[]? DeviceTree { get; }

    /// <summary>Raised by a device that ends the run (isa-debug-exit): the exit code and a one-line reason.</summary>
    event Action<int, string>? DeviceExit;

    /// <summary>The handler of the vCPUs' <c>KVM_EXIT_HYPERCALL</c> (Arm semihosting), for the runner; null when the machine makes none.</summary>
    IHypercallHandler? Hypercalls => null;

    /// <summary>Offers console input to the guest's console device; returns how many bytes it took.</summary>
    int SendInput(ReadOnlySpan<byte> data);

    /// <summary>A dump of the in-kernel interrupt controller's state (for <c>--vgic-state</c>).</summary>
    string DescribeInterruptController();

    /// <summary>The configuration the machine was built from (a snapshot's header).</summary>
    MachineConfig Config { get; }

    /// <summary>Writes the state of the VMM's devices (docs/snapshots.md), every vCPU stopped.</summary>
    /// <exception cref="UnsupportedException">a device has no snapshot support.</exception>
    void SaveDevices(SnapshotWriter writer) => throw new UnsupportedException($"{GetType().Name} has no snapshot support");

    /// <summary>Reads what <see cref="SaveDevices"/> wrote into the devices of a machine built from the same configuration.</summary>
    /// <exception cref="SnapshotFormatException">the devices differ, or the file is corrupt.</exception>
    void LoadDevices(SnapshotReader reader) => throw new UnsupportedException($"{GetType().Name} has no snapshot support");
}

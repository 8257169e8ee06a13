using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.Arm64;

/// <summary>The options of the arm64 <c>virt</c> machine (<c>softkvm run --gic</c>).</summary>
public sealed record Arm64VirtOptions : IMachineOptions
{
    /// <summary>The GIC model.</summary>
    public GicVersion Gic { get; init; } = GicVersion.V3;

    /// <summary>The CPU model's name (<c>softkvm run --cpu</c>), one of <see cref="IArm64VirtBackend.CpuModels"/>.</summary>
    public string Cpu { get; init; } = Arm64CpuModelInfo.DefaultName;

    /// <summary>
    /// Whether the virtio devices (disks, then the console) are virtio-pci functions on the PCIe root bus
    /// from slot 2 on, as QEMU's <c>-device virtio-blk-pci</c> puts them (<c>softkvm run --virtio-pci</c>),
    /// instead of virtio-mmio transports.
    /// </summary>
    public bool VirtioPci { get; init; }
}

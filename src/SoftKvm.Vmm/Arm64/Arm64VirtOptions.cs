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

    /// <summary>
    /// Arm semihosting (<c>softkvm run --semihosting</c>): HLT #0xF000 at EL1 is a call to the VMM (console,
    /// clock, command line, heap layout, exit with a code, files under <see cref="SemihostingRoot"/>). Off, HLT is
    /// UNDEFINED, as on hardware. While on, console input goes to the semihosting console, not the UART.
    /// </summary>
    public bool Semihosting { get; init; }

    /// <summary>The host directory semihosting's SYS_OPEN is confined to (<c>--semihosting-root</c>); null: no file access.</summary>
    public string? SemihostingRoot { get; init; }
}

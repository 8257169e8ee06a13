using SoftKvm.Vmm.Arm64;

namespace SoftKvm.Vmm.Machines;

/// <summary>A disk for the guest: an image file behind virtio-blk.</summary>
/// <param name="Path">The image file.</param>
/// <param name="ReadOnly">Whether the guest may only read it (VIRTIO_BLK_F_RO).</param>
public sealed record DiskConfig(string Path, bool ReadOnly);

/// <summary>What to build: the command line's view of a machine.</summary>
public sealed record MachineConfig
{
    /// <summary>The default RAM size (512 MiB).</summary>
    public const ulong DefaultMemorySize = 512UL << 20;

    /// <summary>"arm64" or "x86_64".</summary>
    public string Architecture { get; init; } = "arm64";

    /// <summary>The number of vCPUs.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>The RAM size in bytes.</summary>
    public ulong MemorySize { get; init; } = DefaultMemorySize;

    /// <summary>The GIC model (arm64).</summary>
    public GicVersion Gic { get; init; } = GicVersion.V3;

    /// <summary>The kernel (ELF, arm64 Image, raw binary; gzip accepted).</summary>
    public string? Kernel { get; init; }

    /// <summary>The initial ramdisk, or null.</summary>
    public string? Initrd { get; init; }

    /// <summary>The kernel command line, or null.</summary>
    public string? Append { get; init; }

    /// <summary>The disks, in order (the first is the first virtio-mmio transport).</summary>
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];

    /// <summary>Whether to add a virtio-console (after the disks) that shares the serial output.</summary>
    public bool VirtioConsole { get; init; }

    /// <summary>
    /// x86 only: the CPU model withholds the VM-exit instruction length on EPT exits, as a VMX hypervisor
    /// running nested sees it for EPT misconfigurations, so the hypervisor decodes the instruction to skip it.
    /// </summary>
    public bool X86WithholdInstructionLength { get; init; }

    /// <summary>
    /// x86 only: KVM's <c>kvm.force_emulation_prefix</c>: <c>ud2; .ascii "kvm"</c> before an instruction
    /// makes the hypervisor emulate it (guest programs that test the instruction emulator use it).
    /// </summary>
    public bool X86ForceEmulationPrefix { get; init; }
}

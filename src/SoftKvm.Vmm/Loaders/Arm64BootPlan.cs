namespace SoftKvm.Vmm.Loaders;

/// <summary>Where the pieces of an arm64 boot go in guest-physical memory, and how the boot vCPU starts.</summary>
public sealed record Arm64BootPlan
{
    /// <summary>The PC of the boot vCPU.</summary>
    public required ulong Entry { get; init; }

    /// <summary>The lowest address the kernel occupies.</summary>
    public required ulong KernelStart { get; init; }

    /// <summary>One past the highest address the kernel occupies (Image: load address + image_size).</summary>
    public required ulong KernelEnd { get; init; }

    /// <summary>The initrd's address, when there is one.</summary>
    public ulong? InitrdStart { get; init; }

    /// <summary>The initrd's size (0 without one).</summary>
    public ulong InitrdSize { get; init; }

    /// <summary>Where the device tree goes; x0 of the boot vCPU.</summary>
    public required ulong DtbAddress { get; init; }

    /// <summary>The device tree must end at or below this address.</summary>
    public required ulong DtbLimit { get; init; }

    /// <summary>Whether the Linux boot protocol applies (Image or raw binary), else an ELF entered at its entry point.</summary>
    public required bool IsLinux { get; init; }
}

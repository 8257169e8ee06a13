namespace SoftKvm.Vmm.Arm64;

/// <summary>What the <c>virt</c> device tree describes.</summary>
public sealed record VirtDeviceTreeOptions
{
    /// <summary>The MPIDR_EL1 of each vCPU, by vCPU index; its affinity fields become the cpu node's <c>reg</c>.</summary>
    public required IReadOnlyList<ulong> CpuMpidrs { get; init; }

    /// <summary>The RAM size (RAM starts at <see cref="VirtMemoryMap.RamBase"/>).</summary>
    public required ulong MemorySize { get; init; }

    /// <summary>The GIC model.</summary>
    public GicVersion Gic { get; init; } = GicVersion.V3;

    /// <summary>The number of virtio-mmio transports to describe (0..32), at 0x0A00_0000 + n·0x200, INTID 48 + n.</summary>
    public int VirtioTransports { get; init; }

    /// <summary>The kernel command line (<c>/chosen/bootargs</c>), or null for none.</summary>
    public string? BootArgs { get; init; }

    /// <summary>The initrd's guest-physical [start, end), or null.</summary>
    public (ulong Start, ulong End)? Initrd { get; init; }

    /// <summary>The <c>compatible</c> of the cpu nodes.</summary>
    public string CpuCompatible { get; init; } = "arm,arm-v8";

    /// <summary>Whether to describe the PCIe host bridge (<c>pci-host-ecam-generic</c>).</summary>
    public bool Pcie { get; init; } = true;

    /// <summary>Whether to describe a PMU (only when the CPU model implements PMUv3).</summary>
    public bool Pmu { get; init; }
}

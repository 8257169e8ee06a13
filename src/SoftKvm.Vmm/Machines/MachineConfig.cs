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
    /// Deterministic execution (docs/snapshots.md#deterministic-execution): the wall-clock time the guest's
    /// real-time clocks start at, with guest time virtual from there; null: guest time is the host's.
    /// </summary>
    public DateTimeOffset? DeterministicEpoch { get; init; }

    /// <summary>The options of the architectures' machines, at most one record of each type (the others are ignored).</summary>
    public IReadOnlyList<IMachineOptions> MachineOptions { get; init; } = [];

    /// <summary>The options record of type <typeparamref name="T"/>, or its defaults when the configuration has none.</summary>
    public T OptionsOf<T>()
        where T : class, IMachineOptions, new()
    {
        foreach (var o in MachineOptions)
        {
            if (o is T options)
            {
                return options;
            }
        }

        return new T();
    }
}

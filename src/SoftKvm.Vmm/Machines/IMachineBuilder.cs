namespace SoftKvm.Vmm.Machines;

/// <summary>
/// Builds the machine of one architecture. <see cref="Prepare"/> does everything that needs no CPU:
/// validates the configuration, reads and places the images, generates the device tree; the prepared
/// machine then creates the VM. The CLI picks a builder by <see cref="Architecture"/>.
/// </summary>
public interface IMachineBuilder
{
    /// <summary>The <c>--arch</c> value this builder serves ("arm64", "x86_64").</summary>
    string Architecture { get; }

    /// <summary>Validates <paramref name="config"/>, reads its files and plans the memory layout.</summary>
    /// <exception cref="Core.Errors.SoftKvmException">bad input (one-line message): <see cref="Errors.ConfigurationException"/>,
    /// <see cref="Errors.InputFileException"/>, <see cref="Errors.BadImageException"/>, <see cref="Errors.MemoryTooSmallException"/>,
    /// <see cref="Errors.MachineUnavailableException"/>.</exception>
    IPreparedMachine Prepare(MachineConfig config);

    /// <summary>
    /// Validates <paramref name="config"/> (a snapshot's) and prepares a machine that loads no image: the
    /// snapshot's memory and state replace everything the images would have put there.
    /// </summary>
    /// <exception cref="Core.Errors.SoftKvmException">bad configuration, or no snapshot support for this machine.</exception>
    IPreparedMachine PrepareRestore(MachineConfig config) =>
        throw new Core.Errors.UnsupportedException($"the {Architecture} machine cannot restore snapshots in this build");
}

/// <summary>A validated machine, its images read and placed, ready to be created.</summary>
public interface IPreparedMachine
{
    /// <summary>The device tree blob the guest will get, or null on machines without one.</summary>
    byte[]? DeviceTree { get; }

    /// <summary>Creates the VM, its vCPUs and devices, and loads the images into guest memory.</summary>
    /// <exception cref="Errors.MachineUnavailableException">no CPU backend is wired for this architecture.</exception>
    /// <exception cref="Core.Errors.SoftKvmException">a device cannot be created (for example a disk image).</exception>
    IMachine Create(MachineIo io);
}

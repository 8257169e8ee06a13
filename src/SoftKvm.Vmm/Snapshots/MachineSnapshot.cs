using SoftKvm.Core.Errors;
using SoftKvm.Core.Snapshots;
using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Runner;
using SoftKvm.Vmm.X86;

namespace SoftKvm.Vmm.Snapshots;

/// <summary>
/// Whole-machine snapshots (docs/snapshots.md): the header (<c>HEAD</c>: architecture and machine
/// configuration, the disk images with their sizes), the VM's state (<see cref="Core.Vm.SaveState"/>:
/// guest memory, vCPUs, in-kernel interrupt controller), the VMM's devices
/// (<see cref="IMachine.SaveDevices"/>), and the closing section. <see cref="Restore"/> builds a machine
/// of the same configuration without loading any image, then reads everything back into it.
/// </summary>
public static class MachineSnapshot
{
    // The runner's exit counts, after the devices.
    private const string VmmTag = "VMMX";

    /// <summary>
    /// Writes <paramref name="machine"/>'s snapshot to <paramref name="stream"/>. Every vCPU must be stopped
    /// between runs with its last exit handled (<see cref="Runner.VmRunner.CompletePendingExits"/>);
    /// <paramref name="exitsSeen"/> are the runner's counts of the exits it handled (<see cref="Runner.VmRunner.ExitsSeen"/>).
    /// </summary>
    /// <returns>The bytes written.</returns>
    /// <exception cref="SoftKvmException">something of the machine cannot be saved (<see cref="UnsupportedException"/>), or a vCPU is running.</exception>
    public static long Save(IMachine machine, Stream stream, VmmExitCounts exitsSeen = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var writer = new SnapshotWriter(stream);
        WriteHeader(writer, machine.Config);
        machine.Vm.SaveState(writer);
        machine.SaveDevices(writer);
        var w = writer.BeginSection(VmmTag);
        w.Write(exitsSeen.Mmio);
        w.Write(exitsSeen.Io);
        writer.EndSection();
        writer.Finish();
        return writer.BytesWritten;
    }

    /// <summary>Reads only the header of the snapshot on <paramref name="stream"/>: the configuration of the machine it was taken from.</summary>
    /// <exception cref="SnapshotFormatException">not a snapshot of this format, or a corrupt header.</exception>
    public static MachineConfig ReadHeader(Stream stream, string name) => ReadHeader(new SnapshotReader(stream, name));

    /// <summary>
    /// Creates the machine a snapshot was taken from, with <paramref name="catalog"/>'s builder for its
    /// architecture, and restores its state: the run goes on from where it was saved.
    /// <paramref name="expectedArchitecture"/>, when given, must be the snapshot's; <paramref name="exitsSeen"/> receives
    /// the saved runner's exit counts (for <see cref="Runner.RunnerOptions.ExitsSeenBefore"/>).
    /// </summary>
    /// <exception cref="SnapshotFormatException">not a snapshot of this format, a snapshot of another architecture or
    /// machine, a disk image whose size changed, a corrupt or truncated file.</exception>
    /// <exception cref="SoftKvmException">the machine cannot be created here.</exception>
    public static IMachine Restore(Stream stream, string name, MachineCatalog catalog, MachineIo io, out VmmExitCounts exitsSeen, string? expectedArchitecture = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var reader = new SnapshotReader(stream, name);
        var config = ReadHeader(reader);
        if (expectedArchitecture is not null && expectedArchitecture != config.Architecture)
        {
            throw new SnapshotFormatException($"{name} is a snapshot of an {config.Architecture} machine, not {expectedArchitecture}");
        }

        foreach (var disk in config.Disks)
        {
            long size = File.Exists(disk.Path) ? new FileInfo(disk.Path).Length : -1;
            if (size < 0)
            {
                throw new SnapshotFormatException($"{name} needs the disk image {disk.Path}, which does not exist");
            }
        }

        IMachine machine;
        try
        {
            machine = catalog.Get(config.Architecture).PrepareRestore(config).Create(io);
        }
        catch (SoftKvmException e) when (e is not SnapshotFormatException)
        {
            throw new SnapshotFormatException($"{name} describes a machine this SoftKvm cannot make: {e.Message}");
        }

        try
        {
            machine.Vm.LoadState(reader);
            machine.LoadDevices(reader);
            using (var r = reader.ReadSection(VmmTag))
            {
                exitsSeen = new VmmExitCounts(r.ReadInt64(), r.ReadInt64());
            }

            reader.ReadEnd();
            return machine;
        }
        catch (SoftKvmException e) when (e is not SnapshotFormatException)
        {
            // A state the VM or a device refuses (a vCPU state that does not fit, an unknown interrupt controller).
            machine.Dispose();
            throw new SnapshotFormatException($"{name} does not fit this machine: {e.Message}");
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }

    private static void WriteHeader(SnapshotWriter writer, MachineConfig c)
    {
        var w = writer.BeginSection(SnapshotFormat.HeaderTag);
        w.Write(c.Architecture);
        w.Write(c.Cpus);
        w.Write(c.MemorySize);
        w.Write(c.Kernel ?? "");
        w.Write(c.Initrd ?? "");
        w.Write(c.Append ?? "");
        w.Write(c.Disks.Count);
        foreach (var d in c.Disks)
        {
            w.Write(Path.GetFullPath(d.Path));
            w.Write(d.ReadOnly);
            w.Write(new FileInfo(d.Path).Length);
        }

        w.Write(c.VirtioConsole);
        var arm = c.OptionsOf<Arm64VirtOptions>();
        w.Write((int)arm.Gic);
        w.Write(arm.Cpu);
        w.Write(arm.VirtioPci);
        w.Write(arm.Semihosting);
        w.Write(arm.SemihostingRoot ?? "");
        var pc = c.OptionsOf<PcOptions>();
        w.Write(pc.WithholdInstructionLength);
        w.Write(pc.ForceEmulationPrefix);
        w.Write(pc.VirtioPci);
        writer.EndSection();
    }

    private static MachineConfig ReadHeader(SnapshotReader reader)
    {
        using var r = reader.ReadSection(SnapshotFormat.HeaderTag);
        string arch = r.ReadString();
        int cpus = r.ReadInt32();
        ulong memory = r.ReadUInt64();
        string kernel = r.ReadString(), initrd = r.ReadString(), append = r.ReadString();
        int diskCount = r.ReadInt32();
        if (diskCount is < 0 or > 64)
        {
            throw reader.Corrupt($"the header lists {diskCount} disks");
        }

        var disks = new List<DiskConfig>();
        for (int i = 0; i < diskCount; i++)
        {
            string path = r.ReadString();
            bool readOnly = r.ReadBoolean();
            long size = r.ReadInt64();
            long now = File.Exists(path) ? new FileInfo(path).Length : -1;
            if (now >= 0 && now != size)
            {
                throw new SnapshotFormatException($"the disk image {path} has {now} bytes; the snapshot was taken with {size}");
            }

            disks.Add(new DiskConfig(path, readOnly));
        }

        bool virtioConsole = r.ReadBoolean();
        var gic = (GicVersion)r.ReadInt32();
        string cpu = r.ReadString();
        bool armVirtioPci = r.ReadBoolean();
        bool semihosting = r.ReadBoolean();
        string semihostingRoot = r.ReadString();
        if (semihostingRoot.Length > 0 && (semihostingRoot.Contains('\0') || !Path.IsPathFullyQualified(semihostingRoot)))
        {
            throw reader.Corrupt("the header's --semihosting-root is not an absolute path");
        }

        var pc = new PcOptions { WithholdInstructionLength = r.ReadBoolean(), ForceEmulationPrefix = r.ReadBoolean(), VirtioPci = r.ReadBoolean() };
        return new MachineConfig
        {
            Architecture = arch,
            Cpus = cpus,
            MemorySize = memory,
            Kernel = kernel.Length == 0 ? null : kernel,
            Initrd = initrd.Length == 0 ? null : initrd,
            Append = append.Length == 0 ? null : append,
            Disks = disks,
            VirtioConsole = virtioConsole,
            MachineOptions = [new Arm64VirtOptions { Gic = gic, Cpu = cpu, VirtioPci = armVirtioPci, Semihosting = semihosting, SemihostingRoot = semihostingRoot.Length == 0 ? null : semihostingRoot }, pc],
        };
    }
}

using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The x86 PC with a Multiboot v1 loader (<c>--arch x86_64</c>): RAM from 0 (<see cref="PcMemoryMap"/>),
/// the kernel placed as its Multiboot header or ELF32 program headers say, the initrd as a Multiboot
/// module, the information structure and an MP table, vCPU 0 in the Multiboot entry state and the others
/// waiting for INIT/SIPI, and virtio-mmio devices as QEMU's <c>microvm</c> places them: the disks, then a
/// virtio-console, in windows at 0xFEB0_0000 + n * 0x200 on IRQ 5 + n, each announced on the kernel command
/// line (<c>virtio_mmio.device=512@0xfeb00000:5</c>). <c>--gic</c> is an arm64 option and is ignored here.
/// </summary>
public sealed class PcMachineBuilder : IMachineBuilder
{
    /// <summary>The highest vCPU count (xAPIC ids 0-254 in the MP table; 255 is the broadcast id).</summary>
    public const int MaxCpus = 255;

    /// <inheritdoc />
    public string Architecture => "x86_64";

    /// <summary>Checks the vCPU count, the RAM size and the devices asked for.</summary>
    /// <exception cref="ConfigurationException">out of range or unsupported.</exception>
    public static void Validate(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Cpus < 1 || config.Cpus > MaxCpus)
        {
            throw new ConfigurationException($"--smp {config.Cpus} is out of range: the x86 PC takes 1 to {MaxCpus} vCPUs");
        }

        if (config.MemorySize < PcMemoryMap.MinMemorySize || config.MemorySize > PcMemoryMap.MaxMemorySize || config.MemorySize % 4096 != 0)
        {
            throw new ConfigurationException(
                $"--memory {SizeText.Of(config.MemorySize)} is out of range: the x86 PC takes 2 MiB to 256 GiB in whole 4 KiB pages");
        }

        if (config.Disks.Count > PcMemoryMap.VirtioMmioCount - 1)
        {
            throw new ConfigurationException(
                $"{config.Disks.Count} disks are too many: the x86 PC has {PcMemoryMap.VirtioMmioCount} virtio-mmio windows and one holds the virtio-console, so at most {PcMemoryMap.VirtioMmioCount - 1} disks");
        }
    }

    /// <summary>The number of virtio-mmio windows in use: the disks and the virtio-console (always present on the PC).</summary>
    public static int VirtioDeviceCount(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Disks.Count + 1;
    }

    /// <summary>The kernel command line: <c>--append</c>, then one <c>virtio_mmio.device=</c> parameter per virtio-mmio window in use.</summary>
    public static string KernelCommandLine(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var parts = new List<string>();
        if (!string.IsNullOrEmpty(config.Append))
        {
            parts.Add(config.Append);
        }

        for (int i = 0; i < VirtioDeviceCount(config); i++)
        {
            parts.Add(PcMemoryMap.VirtioMmioCommandLine(i));
        }

        return string.Join(' ', parts);
    }

    /// <inheritdoc />
    public IPreparedMachine Prepare(MachineConfig config)
    {
        Validate(config);
        if (config.Kernel is null)
        {
            throw new ConfigurationException("no kernel given (--kernel FILE)");
        }

        var kernel = MultibootImage.Load(config.Kernel);
        ulong lowRam = PcMemoryMap.LowRamSize(config.MemorySize);
        foreach (var s in kernel.Segments)
        {
            if (s.Address < PcMemoryMap.ExtendedStart && s.Address + s.MemorySize > PcMemoryMap.BootDataStart)
            {
                throw new BadImageException(
                    $"'{kernel.Name}' loads at 0x{s.Address:x}-0x{s.Address + s.MemorySize - 1:x}, inside the loader's area 0x{PcMemoryMap.BootDataStart:x}-0x{PcMemoryMap.ExtendedStart - 1:x}");
            }

            if (s.Address + s.MemorySize > lowRam)
            {
                throw new MemoryTooSmallException(
                    $"kernel '{kernel.Name}' ({SizeText.Of(s.MemorySize)} at 0x{s.Address:x}) does not fit in {SizeText.Of(config.MemorySize)} of RAM");
            }
        }

        var blobs = new List<(ulong Address, byte[] Data)>();
        var modules = new List<MultibootModule>();
        if (config.Initrd is not null)
        {
            byte[] initrd = InputFiles.ReadAll(config.Initrd, "initrd");
            ulong start = (Math.Max(kernel.HighAddress, PcMemoryMap.ExtendedStart) + 0xFFF) & ~0xFFFUL;
            if (start + (ulong)initrd.Length > lowRam)
            {
                throw new MemoryTooSmallException(
                    $"initrd ({SizeText.Of((ulong)initrd.Length)} at 0x{start:x}) does not fit in {SizeText.Of(config.MemorySize)} of RAM");
            }

            blobs.Add((start, initrd));
            modules.Add(new MultibootModule((uint)start, (uint)(start + (ulong)initrd.Length), Path.GetFileName(config.Initrd)));
        }

        byte[] info = MultibootInfo.Build(PcMemoryMap.BootDataStart, PcMemoryMap.BootDataEnd, PcMemoryMap.Multiboot(config.MemorySize), KernelCommandLine(config), modules);
        blobs.Add((PcMemoryMap.BootDataStart, info));
        byte ioApicId = IoApicId(config.Cpus);
        ushort levelIrqs = 0;
        for (int i = 0; i < VirtioDeviceCount(config); i++)
        {
            levelIrqs |= (ushort)(1 << PcMemoryMap.VirtioIrq(i));
        }

        blobs.Add((PcMemoryMap.MpTableAddress, MpTable.Build((uint)PcMemoryMap.MpTableAddress, config.Cpus, ioApicId, levelIrqs)));
        return new PreparedPc(config, kernel, blobs, ioApicId);
    }

    /// <summary>The IOAPIC id: after the vCPUs' APIC ids when the 4-bit IOAPIC id register can hold it, else 0.</summary>
    internal static byte IoApicId(int cpus) => (byte)(cpus <= 15 ? cpus : 0);
}

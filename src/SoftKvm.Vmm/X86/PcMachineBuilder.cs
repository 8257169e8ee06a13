using SoftKvm.Devices.X86;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.X86.Acpi;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The x86 PC (<c>--arch x86_64</c>): RAM from 0 (<see cref="PcMemoryMap"/>), the kernel loaded by the loader
/// its image asks for: a Linux bzImage by the Linux boot protocol (<see cref="PcLinuxLoader"/>: zero page,
/// command line, initrd below initrd_addr_max, the 64-bit or 32-bit entry), anything else as a Multiboot v1
/// kernel (<see cref="PcMultibootLoader"/>: its Multiboot header or ELF32 program headers, the initrd as a
/// module, the information structure); an MP table, vCPU 0 in the loader's entry state and the others
/// waiting for INIT/SIPI, and the virtio devices (the disks, then a virtio-console): virtio-pci functions on
/// bus 0 by default, or (<see cref="PcOptions.VirtioPci"/> false) virtio-mmio windows as QEMU's <c>microvm</c>
/// places them, at 0xFEB0_0000 + n * 0x200 on IRQ 5 + n, each announced on the kernel command line
/// (<c>virtio_mmio.device=512@0xfeb00000:5</c>). <c>--gic</c> is an arm64 option and is ignored here.
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

        if (config.OptionsOf<PcOptions>().VirtioPci)
        {
            int slots = 32 - PcPlatform.FirstFreeSlot;
            if (config.Disks.Count > slots - 1)
            {
                throw new ConfigurationException(
                    $"{config.Disks.Count} disks are too many: PCI bus 0 has {slots} free devices for virtio-pci functions and one holds the virtio-console, so at most {slots - 1} disks");
            }
        }
        else if (config.Disks.Count > PcMemoryMap.VirtioMmioCount - 1)
        {
            throw new ConfigurationException(
                $"{config.Disks.Count} disks are too many: the x86 PC has {PcMemoryMap.VirtioMmioCount} virtio-mmio windows and one holds the virtio-console, so at most {PcMemoryMap.VirtioMmioCount - 1} disks");
        }
    }

    /// <summary>
    /// The number of virtio-mmio windows in use: the disks and the virtio-console (always present on the PC);
    /// none when they are virtio-pci functions (<see cref="PcOptions.VirtioPci"/>).
    /// </summary>
    public static int VirtioDeviceCount(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.OptionsOf<PcOptions>().VirtioPci ? 0 : config.Disks.Count + 1;
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

        byte[] image = InputFiles.ReadAll(config.Kernel, "kernel");
        string name = Path.GetFileName(config.Kernel);
        var boot = BzImage.IsBzImage(image)
            ? PcLinuxLoader.Plan(config, BzImage.Parse(name, image))
            : PcMultibootLoader.Plan(config, MultibootImage.Parse(name, image));
        byte ioApicId = IoApicId(config.Cpus);
        ushort levelIrqs = PcPlatform.LevelIrqs;
        for (int i = 0; i < VirtioDeviceCount(config); i++)
        {
            levelIrqs |= (ushort)(1 << PcMemoryMap.VirtioIrq(i));
        }

        var mpTable = MpTable.Build((uint)PcMemoryMap.MpTableAddress, config.Cpus, ioApicId, levelIrqs);
        var acpi = AcpiTables.Build((uint)PcMemoryMap.AcpiAddress, config.Cpus, ioApicId, levelIrqs, AcpiPm.DefaultPort);
        boot = boot with
        {
            Pieces = [.. boot.Pieces, new PcBootPiece(PcMemoryMap.MpTableAddress, mpTable, 0, "MP table"), new PcBootPiece(PcMemoryMap.AcpiAddress, acpi, 0, "ACPI tables")],
        };
        return new PreparedPc(config, boot, ioApicId);
    }

    /// <inheritdoc />
    public IPreparedMachine PrepareRestore(MachineConfig config)
    {
        Validate(config);
        return new PreparedPc(config, new PcBoot([], PcEntryMode.Multiboot, 0, 0), IoApicId(config.Cpus));
    }

    /// <summary>The IOAPIC id: after the vCPUs' APIC ids when the 4-bit IOAPIC id register can hold it, else 0.</summary>
    internal static byte IoApicId(int cpus) => (byte)(cpus <= 15 ? cpus : 0);
}

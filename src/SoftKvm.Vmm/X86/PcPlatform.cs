using System.Buffers.Binary;
using SoftKvm.Core.Io;
using SoftKvm.Devices;
using SoftKvm.Devices.FwCfg;
using SoftKvm.Devices.Pci;
using SoftKvm.Devices.X86;
using SoftKvm.Vmm.Machines;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The devices that make SoftKvm's PC look like QEMU's <c>pc</c> to programs built for it, placed on the
/// VMM's buses by <see cref="PcMachine"/>:
/// <list type="bullet">
/// <item>PCI bus 0 behind configuration mechanism #1 (0xCF8/0xCFC): the i440FX host bridge at 00.0 and
/// QEMU's pci-testdev at 00.2 (<see cref="PciTestDeviceSlot"/>), their BARs assigned and decoding as
/// SeaBIOS leaves them (I/O from 0xC000, memory from 0xC000_0000), INTx on ISA IRQs 10/11;</item>
/// <item>the PIIX reset control register at 0xCF9 (the FADT's reset register);</item>
/// <item>the ACPI PM registers at 0x600 (PM1a event and control blocks, PM timer; S5 powers off);</item>
/// <item>fw_cfg at 0x510 (signature, ID, RAM size, vCPU counts, the IRQ0 override flag, <c>etc/e820</c>,
/// with DMA at 0x514);</item>
/// <item>QEMU's pc-testdev (ports 0xE0-0xEB, IRQ ports 0x2000-0x2017, 64 KiB at 0xFF00_0000).</item>
/// </list>
/// The ACPI tables that describe them are built with the boot data (<see cref="Acpi.AcpiTables"/>).
/// </summary>
internal sealed class PcPlatform : IDisposable
{
    /// <summary>pci-testdev's device number on bus 0.</summary>
    public const int PciTestDeviceSlot = 2;

    /// <summary>The device number of the first virtio-pci function (the disks, then the console).</summary>
    public const int FirstFreeSlot = 3;

    /// <summary>The I/O window PCI BARs are assigned from (SeaBIOS's 0xC000 up).</summary>
    public static readonly PciWindow PciIoWindow = new(0xC000, 0x4000);

    /// <summary>The memory window PCI BARs are assigned from: the hole above low RAM, up to the virtio-mmio windows.</summary>
    public static readonly PciWindow PciMemoryWindow = new(PcMemoryMap.LowRamLimit, PcMemoryMap.VirtioMmioBase - PcMemoryMap.LowRamLimit);

    private readonly PciTestDevice _pciTest = new();

    /// <summary>
    /// Creates the devices; <paramref name="functions"/> (the virtio-pci transports, <see cref="PcOptions.VirtioPci"/>)
    /// go on bus 0 from <see cref="FirstFreeSlot"/> on, before the firmware assigns the BARs.
    /// </summary>
    public PcPlatform(MachineConfig config, X86Vm vm, X86Irqchip irqchip, PcIrqLines lines, IoBus mmio, IoBus pio, MachineIo io, Action<int, string> stop, IReadOnlyList<PciDevice> functions)
    {
        try
        {
            var host = new PcPciHost(vm, irqchip, lines, mmio, pio, io.Log.WriteLine);
            Bus = new PciBus(host);
            Bus.Attach(0, 0, new I440fxHostBridge());
            Bus.Attach(PciTestDeviceSlot, 0, _pciTest);
            for (int i = 0; i < functions.Count; i++)
            {
                Bus.Attach(FirstFreeSlot + i, 0, functions[i]);
            }

            Reset = new ResetControl(() => stop(0, "reset: the guest wrote RST_CPU to port 0xcf9; SoftKvm stops instead of rebooting"));
            var addressPortBytes = new CompositeRegion().Add(ResetControl.Port - PciConfigMechanism1.AddressPort, 1, Reset);
            ConfigPorts = new PciConfigMechanism1(Bus, addressPortBytes);
            pio.Register(PciConfigMechanism1.AddressPort, PciConfigMechanism1.PortCount, ConfigPorts);
            PciFirmware.AssignResources(Bus, PciIoWindow, PciMemoryWindow, (a, pin) => (byte)PcPciHost.Irq(a.Device, pin));

            Pm = new AcpiPm(() => stop(0, "ACPI: the guest entered S5 (soft off)"), io.Log.WriteLine);
            pio.Register(AcpiPm.DefaultPort, AcpiPm.PortCount, Pm);

            FwCfg = new FwCfgDevice(vm.Memory);
            FwCfg.AddUInt64(FwCfgKeys.RamSize, config.MemorySize);
            FwCfg.AddUInt16(FwCfgKeys.NbCpus, (ushort)config.Cpus);
            FwCfg.AddUInt16(FwCfgKeys.MaxCpus, (ushort)config.Cpus);
            FwCfg.AddUInt32(FwCfgKeys.Irq0Override, 1);
            FwCfg.AddFile("etc/e820", E820(config.MemorySize));
            FwCfgPorts = new FwCfgIoPorts(FwCfg);
            pio.Register(FwCfgIoPorts.SelectorPort, FwCfgIoPorts.PortCount, FwCfgPorts);

            var isaLines = Enumerable.Range(0, lines.Count).Select(lines.NewInput).ToArray();
            TestDevice = new PcTestDevice(isaLines, _ => vm.Memory.Invalidate());
            pio.Register(PcTestDevice.DataPort, PcTestDevice.RegisterPorts, TestDevice.Data);
            pio.Register(PcTestDevice.FlushPort, PcTestDevice.RegisterPorts, TestDevice.FlushPage);
            pio.Register(PcTestDevice.ByteDataPort, PcTestDevice.RegisterPorts, TestDevice.ByteData);
            pio.Register(PcTestDevice.IrqPort, PcTestDevice.IrqLineCount, TestDevice.IrqLines);
            mmio.Register(PcTestDevice.MemoryAddress, PcTestDevice.MemorySize, TestDevice.Memory);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>PCI bus 0.</summary>
    public PciBus Bus { get; }

    /// <summary>Configuration mechanism #1 at 0xCF8 (its CONFIG_ADDRESS register is the host bridge's state).</summary>
    public PciConfigMechanism1 ConfigPorts { get; }

    /// <summary>The reset control register at 0xCF9.</summary>
    public ResetControl Reset { get; }

    /// <summary>The fw_cfg items.</summary>
    public FwCfgDevice FwCfg { get; }

    /// <summary>fw_cfg's I/O ports (with the DMA address register).</summary>
    public FwCfgIoPorts FwCfgPorts { get; }

    /// <summary>The ACPI PM registers.</summary>
    public AcpiPm Pm { get; }

    /// <summary>pc-testdev.</summary>
    public PcTestDevice TestDevice { get; }

    /// <summary>
    /// The ISA IRQs the platform's devices drive level-triggered, active high (the MP table and the MADT
    /// announce them so): the SCI and PIRQ A-D.
    /// </summary>
    public static ushort LevelIrqs
    {
        get
        {
            ushort mask = 1 << Acpi.Fadt.SciIrq;
            foreach (int irq in PcPciHost.PirqIrqs)
            {
                mask |= (ushort)(1 << irq);
            }

            return mask;
        }
    }

    /// <summary>
    /// fw_cfg's <c>etc/e820</c> as QEMU's <c>pc</c> writes it: packed 20-byte entries (address, length,
    /// type, little-endian), RAM below the hole and RAM from 4 GiB; SeaBIOS adds the legacy holes itself.
    /// </summary>
    public static byte[] E820(ulong memorySize)
    {
        var ranges = new List<(ulong Address, ulong Length)> { (0, PcMemoryMap.LowRamSize(memorySize)) };
        if (PcMemoryMap.HighRamSize(memorySize) is ulong high and > 0)
        {
            ranges.Add((PcMemoryMap.HighRamBase, high));
        }

        var e = new byte[ranges.Count * 20];
        for (int i = 0; i < ranges.Count; i++)
        {
            var s = e.AsSpan(i * 20, 20);
            BinaryPrimitives.WriteUInt64LittleEndian(s, ranges[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(s[8..], ranges[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(s[16..], 1); // E820_RAM
        }

        return e;
    }

    public void Dispose() => _pciTest.Dispose();
}

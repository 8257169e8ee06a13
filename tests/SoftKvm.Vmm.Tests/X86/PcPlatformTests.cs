using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core.Io;
using SoftKvm.Devices;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.X86;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.Tests.X86;

/// <summary>
/// The PC platform devices reached through the machine's buses as a guest reaches them: PCI by
/// configuration mechanism #1, fw_cfg by its ports, the ACPI PM and reset registers, pc-testdev, and the
/// ACPI tables in guest memory.
/// </summary>
public sealed class PcPlatformTests : IDisposable
{
    private readonly IMachine _m;
    private readonly List<(int Code, string Message)> _exits = [];

    public PcPlatformTests()
    {
        var config = new MachineConfig
        {
            Architecture = "x86_64",
            Cpus = 2,
            MemorySize = 64UL << 20,
            Kernel = MultibootImages.Guest("compute32.elf"),
        };
        _m = new PcMachineBuilder().Prepare(config).Create(new MachineIo(new SerialOutput(new MemoryStream()), TextWriter.Null));
        _m.DeviceExit += (c, s) => _exits.Add((c, s));
    }

    public void Dispose() => _m.Dispose();

    private uint In32(ushort port)
    {
        Span<byte> b = stackalloc byte[4];
        Assert.True(_m.PioBus.Read(null, port, b));
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private byte In8(ushort port)
    {
        Span<byte> b = stackalloc byte[1];
        Assert.True(_m.PioBus.Read(null, port, b));
        return b[0];
    }

    private void Out32(ushort port, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Assert.True(_m.PioBus.Write(null, port, b));
    }

    private void Out16(ushort port, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        Assert.True(_m.PioBus.Write(null, port, b));
    }

    private uint Config(int device, int register)
    {
        Out32(0xCF8, 0x8000_0000u | (uint)(device << 11) | (uint)register);
        return In32(0xCFC);
    }

    [Fact]
    public void Bus0HasTheI440fxHostBridgeAndPciTestdevWithBarsAssigned()
    {
        Assert.Equal(0x1237_8086u, Config(0, 0));
        Assert.Equal(0x0600_0002u, Config(0, 8)); // host bridge, revision 2
        Assert.Equal(uint.MaxValue, Config(1, 0)); // nobody at 00:01.0
        Assert.Equal(0x0005_1B36u, Config(PcPlatform.PciTestDeviceSlot, 0));
        uint bar0 = Config(PcPlatform.PciTestDeviceSlot, 0x10);
        uint bar1 = Config(PcPlatform.PciTestDeviceSlot, 0x14);
        Assert.InRange(bar0, (uint)PcPlatform.PciMemoryWindow.Start, (uint)PcPlatform.PciMemoryWindow.Last);
        Assert.Equal(1u, bar1 & 1); // I/O
        Assert.InRange(bar1 & ~3u, 0xC000u, 0xFFFFu);
        Assert.Equal(3u, Config(PcPlatform.PciTestDeviceSlot, 4) & 3); // I/O and memory decoding on
        Assert.True(_m.MmioBus.TryFind(bar0, 1, out _, out _));

        // pci-testdev's I/O BAR answers: its header names the first I/O test after the guest starts it.
        ushort io = (ushort)(bar1 & ~3u);
        Assert.True(_m.PioBus.Write(null, io, [0]));
        var name = new byte[24];
        for (int i = 0; i < name.Length; i++)
        {
            name[i] = In8((ushort)(io + 16 + i));
        }

        Assert.StartsWith("portio-no-eventfd", Encoding.ASCII.GetString(name));
    }

    [Fact]
    public void ConfigAddressIsADoublewordAndOtherBusesAreAbsent()
    {
        Out32(0xCF8, 0x8001_0000); // bus 1
        Assert.Equal(uint.MaxValue, In32(0xCFC));
        Out32(0xCF8, 0x8000_0000);
        Assert.Equal(0x8000_0000u, In32(0xCF8));
        Assert.Equal(0x8086, In8(0xCFC) | (In8(0xCFD) << 8)); // byte accesses at CONFIG_DATA + n
    }

    [Fact]
    public void FwCfgAnswersAsQemusPc()
    {
        Out16(0x510, 0x0000);
        var sig = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            sig[i] = In8(0x511);
        }

        Assert.Equal("QEMU", Encoding.ASCII.GetString(sig));
        Out16(0x510, 0x0005); // NB_CPUS
        Assert.Equal(2, In8(0x511) | (In8(0x511) << 8));
        var p = (PcMachine)_m;
        Assert.Equal(["etc/e820"], p.Platform.FwCfg.FileNames);
        Out16(0x510, 0x0003); // RAM_SIZE
        ulong ram = 0;
        for (int i = 0; i < 8; i++)
        {
            ram |= (ulong)In8(0x511) << (i * 8);
        }

        Assert.Equal(64UL << 20, ram);
        Out16(0x510, p.Platform.FwCfg.FileKey("etc/e820")!.Value);
        var e820 = new byte[20];
        for (int i = 0; i < 20; i++)
        {
            e820[i] = In8(0x511);
        }

        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(e820));
        Assert.Equal(64UL << 20, BinaryPrimitives.ReadUInt64LittleEndian(e820.AsSpan(8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(e820.AsSpan(16)));
    }

    [Fact]
    public void HighRamIsASecondE820Entry()
    {
        var e = PcPlatform.E820(5UL << 30);
        Assert.Equal(40, e.Length);
        Assert.Equal(PcMemoryMap.LowRamLimit, BinaryPrimitives.ReadUInt64LittleEndian(e.AsSpan(8)));
        Assert.Equal(PcMemoryMap.HighRamBase, BinaryPrimitives.ReadUInt64LittleEndian(e.AsSpan(20)));
        Assert.Equal(2UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(e.AsSpan(28)));
    }

    [Fact]
    public void SleepTypeZeroPowersOffAndOtherTypesAreRefused()
    {
        Assert.Equal(1, In8(0x604) & 1); // SCI_EN: always in ACPI mode
        Out16(0x604, (1 << 10) | (1 << 13)); // SLP_TYP 1 (no \_S1): nothing happens
        Assert.Empty(_exits);
        Out16(0x604, 1 << 13); // SLP_TYP 0 (\_S5) | SLP_EN
        Assert.Equal(0, Assert.Single(_exits).Code);
        Assert.Contains("S5", _exits[0].Message);
    }

    [Fact]
    public void PmTimerCounts()
    {
        uint a = In32(0x608);
        Thread.Sleep(20);
        uint b = In32(0x608);
        Assert.True(((b - a) & 0xFF_FFFF) >= 3_579_545 / 100, $"{a} -> {b}"); // at least 10 ms of 3.58 MHz
        Assert.Equal(0u, b >> 24);
    }

    [Fact]
    public void ResetRegisterStopsTheRun()
    {
        Assert.True(_m.PioBus.Write(null, 0xCF9, [2])); // SRST only: no reset
        Assert.Empty(_exits);
        Assert.Equal(2, In8(0xCF9));
        Assert.True(_m.PioBus.Write(null, 0xCF9, [6]));
        Assert.Equal(0, Assert.Single(_exits).Code);
    }

    [Fact]
    public void PcTestdevSitsOnItsPortsAndMemoryWindowAndDrivesIrqLines()
    {
        Out32(0xE0, 0x1234_5678);
        Assert.Equal(0x1234_5678u, In32(0xE0));
        Assert.Equal(0x56, In8(0xE9));
        Span<byte> w = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(w, 0xA5A5_5A5A);
        Assert.True(_m.MmioBus.Write(null, 0xFF00_FFFC, w));
        w.Clear();
        Assert.True(_m.MmioBus.Read(null, 0xFF00_FFFC, w));
        Assert.Equal(0xA5A5_5A5Au, BinaryPrimitives.ReadUInt32LittleEndian(w));

        long generation = _m.Vm.Memory.Generation;
        Out32(0xE4, 0x1000);
        Assert.True(_m.Vm.Memory.Generation > generation);

        // IRQ 14 made level-triggered in the slave PIC's ELCR, so its IRR bit (OCW3 default read) follows the line.
        var pic = ((PcMachine)_m).Irqchip.Pic;
        pic.ElcrPorts.Write(null, 1, [0x40]);
        Span<byte> irr = stackalloc byte[1];
        Assert.True(_m.PioBus.Write(null, 0x2000 + 14, [1]));
        pic.SlavePorts.Read(null, 0, irr);
        Assert.Equal(0x40, irr[0] & 0x40);
        Assert.True(_m.PioBus.Write(null, 0x2000 + 14, [0]));
        pic.SlavePorts.Read(null, 0, irr);
        Assert.Equal(0, irr[0] & 0x40);
    }

    [Fact]
    public void AcpiTablesAreInGuestMemory()
    {
        var rsdp = new byte[36];
        _m.Vm.Memory.Read(PcMemoryMap.AcpiAddress, rsdp);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        uint xsdt = (uint)BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24));
        var sig = new byte[4];
        _m.Vm.Memory.Read(xsdt, sig);
        Assert.Equal("XSDT", Encoding.ASCII.GetString(sig));
    }
}

using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>Configuration mechanism #1 at register level: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF.</summary>
public sealed class PciConfigMechanism1Tests
{
    private readonly FakePciHost _host = new();
    private readonly PciBus _bus;
    private readonly TestFunction _function = new();
    private readonly TestFunction.Recorder _byteRegisters = new() { Fill = 0x42 };
    private readonly PciConfigMechanism1 _cf8;

    public PciConfigMechanism1Tests()
    {
        _bus = new PciBus(_host);
        _bus.Attach(3, 0, _function);
        _cf8 = new PciConfigMechanism1(_bus, _byteRegisters);
    }

    private static uint Address(int device, int function, int register, int bus = 0) =>
        0x8000_0000u | (uint)(bus << 16) | (uint)(device << 11) | (uint)(function << 8) | (uint)register;

    [Fact]
    public void ConfigAddressReadsBackWithoutItsReservedBits()
    {
        Io.Write32(_cf8, 0, 0xFFFF_FFFF);
        Assert.Equal(0x80FF_FFFCu, Io.Read32(_cf8, 0));
        Io.Write32(_cf8, 0, 0x8000_0000);
        Assert.Equal(0x8000_0000u, Io.Read32(_cf8, 0)); // Linux's pci_check_type1 probe
    }

    [Fact]
    public void ConfigDataReachesTheAddressedRegister()
    {
        Io.Write32(_cf8, 0, Address(3, 0, 0x00));
        Assert.Equal(0x5678_1234u, Io.Read32(_cf8, 4));
        Io.Write32(_cf8, 0, Address(3, 0, 0x08));
        Assert.Equal(0x0C_03_30_07u, Io.Read32(_cf8, 4));
        Assert.Equal(0x0Cu, Io.Read8(_cf8, 7)); // byte 3 of the register through port 0xCFF
    }

    [Fact]
    public void AbsentFunctionsOtherBusesAndDisabledCyclesReadAllOnes()
    {
        Io.Write32(_cf8, 0, Address(4, 0, 0));
        Assert.Equal(uint.MaxValue, Io.Read32(_cf8, 4));
        Io.Write32(_cf8, 0, Address(3, 0, 0, bus: 1));
        Assert.Equal(uint.MaxValue, Io.Read32(_cf8, 4));
        Io.Write32(_cf8, 0, Address(3, 0, 0) & 0x7FFF_FFFF);
        Assert.Equal(uint.MaxValue, Io.Read32(_cf8, 4));
    }

    [Fact]
    public void WritesGoThroughTheWriteMask()
    {
        Io.Write32(_cf8, 0, Address(3, 0, 0x3C));
        Io.Write32(_cf8, 4, 0xFFFF_FF0B); // INTERRUPT_LINE is writable, INTERRUPT_PIN and the rest are not
        Assert.Equal(0x0000_010Bu, Io.Read32(_cf8, 4));
        Io.Write32(_cf8, 0, Address(3, 0, 0x00));
        Io.Write32(_cf8, 4, 0);
        Assert.Equal(0x5678_1234u, Io.Read32(_cf8, 4));
        Io.Write32(_cf8, 0, Address(4, 0, 0x3C));
        Io.Write32(_cf8, 4, 0x11); // absent: ignored
    }

    [Fact]
    public void NarrowAccessesToTheAddressPortsGoToTheByteRegisters()
    {
        Io.Write32(_cf8, 0, Address(3, 0, 0));
        Io.Write8(_cf8, 1, 0x06); // the PC's reset control register at 0xCF9
        Assert.Equal(1UL, _byteRegisters.Writes[0].Offset);
        Assert.Equal([6], _byteRegisters.Writes[0].Data);
        Assert.Equal(0x42, Io.Read8(_cf8, 1));
        Assert.Equal(Address(3, 0, 0), _cf8.ConfigAddress);
        Assert.Equal(0xFF, Io.Read8(new PciConfigMechanism1(_bus), 1));
    }
}

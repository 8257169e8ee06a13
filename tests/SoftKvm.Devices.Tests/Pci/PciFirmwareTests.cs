using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>The VMM as firmware: BARs assigned naturally aligned, largest first, decoding enabled, INTERRUPT_LINE written.</summary>
public sealed class PciFirmwareTests
{
    [Fact]
    public void BarsGetAlignedAddressesInTheWindowsAndDecode()
    {
        var host = new FakePciHost();
        var bus = new PciBus(host);
        var a = new TestFunction();
        var b = new TestFunction(msi: false, msix: false);
        bus.Attach(0, 0, new PciHeaderFunction(new PciIdentity(0x8086, 0x1237, 0x060000, 2)));
        bus.Attach(3, 0, a);
        bus.Attach(4, 0, b);
        PciFirmware.AssignResources(bus, new PciWindow(0xC000, 0x4000), new PciWindow(0xE000_0000, 0x1000_0000), (address, pin) => (byte)(10 + address.Device + pin));

        // Memory: the two 16 KiB BARs first, then the 4 KiB ones; I/O: 32 ports each.
        Assert.Equal(0xE000_0000UL, a.BarAddress(2));
        Assert.Equal(0xE000_4000UL, b.BarAddress(2));
        Assert.Equal(0xE000_8000UL, a.BarAddress(1));
        Assert.Equal(0xE000_9000UL, b.BarAddress(1));
        Assert.Equal(0xC000UL, a.BarAddress(0));
        Assert.Equal(0xC020UL, b.BarAddress(0));
        Assert.Equal(0x0003, Config.Read16(a, 0x04));
        Assert.Equal(14, Config.Read8(a, 0x3C));
        Assert.Equal(15, Config.Read8(b, 0x3C));
        Assert.Equal(0, Config.Read16(bus.Find(new PciAddress(0, 0, 0))!, 0x04));
    }

    [Fact]
    public void BarsThatDoNotFitAreAConfigurationError()
    {
        var bus = new PciBus(new FakePciHost());
        bus.Attach(1, 0, new TestFunction());
        var e = Assert.Throws<DeviceConfigurationException>(() =>
            PciFirmware.AssignResources(bus, new PciWindow(0xC000, 0x100), new PciWindow(0xE000_0000, 0x2000)));
        Assert.Contains("does not fit", e.Message);
    }
}

using System.Text;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>
/// QEMU's pci-testdev driven the way kvm-unit-tests' lib/pci-testdev.c drives it: start a test by writing
/// its number to offset 0, read the header, write the data 16 times at the offset, read the count
/// (0 when an ioeventfd took the writes, 16 when the device saw them).
/// </summary>
public sealed class PciTestDeviceTests : IDisposable
{
    private const ulong Mmio = 0xFEBF_F000;
    private const ulong Port = 0xC000;

    private readonly FakePciHost _host = new();
    private readonly PciTestDevice _dev = new();

    public PciTestDeviceTests()
    {
        var bus = new PciBus(_host);
        bus.Attach(2, 0, _dev);
        PciFirmware.AssignResources(bus, new PciWindow(Port, 0x1000), new PciWindow(Mmio, 0x1000));
    }

    public void Dispose() => _dev.Dispose();

    [Fact]
    public void IdentityAndBarsAreQemus()
    {
        Assert.Equal(0x0005_1B36u, Config.Read32(_dev, 0));
        Assert.Equal(0x00FF_0000u, Config.Read32(_dev, 8)); // class 00, subclass FF, revision 0
        Assert.Equal(0, Config.Read8(_dev, 0x3D));
        Assert.Equal(Mmio, _dev.BarAddress(0));
        Assert.Equal(Port, _dev.BarAddress(1));
        Assert.Equal(4096UL, _dev.BarSize(0));
        Assert.Equal(256UL, _dev.BarSize(1));
    }

    [Theory]
    [InlineData(IoBusKind.Mmio, 0, "mmio-no-eventfd", 2048u, 0xFA, 16u)]
    [InlineData(IoBusKind.Mmio, 1, "mmio-wildcard-eventfd", 2049u, 0xCE, 0u)]
    [InlineData(IoBusKind.Mmio, 2, "mmio-datamatch-eventfd", 2050u, 0xFA, 0u)]
    [InlineData(IoBusKind.Pio, 0, "portio-no-eventfd", 131u, 0xFA, 16u)]
    [InlineData(IoBusKind.Pio, 1, "portio-wildcard-eventfd", 132u, 0xCE, 0u)]
    [InlineData(IoBusKind.Pio, 2, "portio-datamatch-eventfd", 133u, 0xFA, 0u)]
    public void TestsCountTheWritesTheHypervisorDidNotTake(IoBusKind space, byte test, string name, uint offset, byte data, uint count)
    {
        ulong bar = space == IoBusKind.Mmio ? Mmio : Port;
        _host.GuestWrite8(space, bar, test);
        Assert.Equal(0u, _host.GuestRead32(space, bar + 12));
        Assert.Equal(1, _host.GuestRead8(space, bar + 1)); // width
        Assert.Equal(offset, _host.GuestRead32(space, bar + 4));
        Assert.Equal(data, _host.GuestRead8(space, bar + 8));
        var text = new StringBuilder();
        for (ulong i = 16; _host.GuestRead8(space, bar + i) != 0; i++)
        {
            text.Append((char)_host.GuestRead8(space, bar + i));
        }

        Assert.Equal(name, text.ToString());
        for (int i = 0; i < 16; i++)
        {
            _host.GuestWrite8(space, bar + offset, data);
        }

        Assert.Equal(count, _host.GuestRead32(space, bar + 12));
    }

    [Fact]
    public void DataMatchingTestsIgnoreOtherDataAndOtherOffsets()
    {
        _host.GuestWrite8(IoBusKind.Pio, Port, 2);
        _host.GuestWrite8(IoBusKind.Pio, Port + 133, 0x11); // not the data: the device sees it and does not count
        _host.GuestWrite8(IoBusKind.Pio, Port + 134, 0xFA); // not the offset
        Assert.Equal(0u, _dev.Count(5));

        _host.GuestWrite8(IoBusKind.Pio, Port, 0);
        _host.GuestWrite8(IoBusKind.Pio, Port + 131, 0x11);
        Assert.Equal(0u, _dev.Count(3));
        _host.GuestWrite8(IoBusKind.Pio, Port + 131, 0xFA);
        Assert.Equal(1u, _dev.Count(3));
    }

    [Fact]
    public void AnotherTestNumberStopsTheTestAndItsIoEvent()
    {
        _host.GuestWrite8(IoBusKind.Mmio, Mmio, 1);
        Assert.Equal(1, _host.KernelMemory.IoEventCount);
        Assert.Equal(1, _dev.CurrentTest);
        _host.GuestWrite8(IoBusKind.Mmio, Mmio, 7);
        Assert.Equal(-1, _dev.CurrentTest);
        Assert.Equal(0, _host.KernelMemory.IoEventCount);
        Assert.Equal(0u, _host.GuestRead32(IoBusKind.Mmio, Mmio)); // no test: reads zero
    }

    [Fact]
    public void WildcardMemoryIoEventTakesWritesOfAnyLength()
    {
        _host.GuestWrite8(IoBusKind.Mmio, Mmio, 1);
        Assert.True(_host.GuestWrite(IoBusKind.Mmio, Mmio + 2049, [1, 2, 3, 4]));
        Assert.Equal(0u, _dev.Count(1));
        _host.GuestWrite8(IoBusKind.Pio, Port, 1);
        _host.GuestWrite(IoBusKind.Pio, Port + 132, [0xCE, 0]); // a port ioeventfd has length 1: a word goes to the device
        Assert.Equal(1u, _dev.Count(4));
    }

    [Fact]
    public void StateRoundTripsWithTheRunningTest()
    {
        _host.GuestWrite8(IoBusKind.Pio, Port, 0);
        _host.GuestWrite8(IoBusKind.Pio, Port + 131, 0xFA);
        var state = _dev.SaveState();
        var host = new FakePciHost();
        using var copy = new PciTestDevice();
        new PciBus(host).Attach(2, 0, copy);
        copy.RestoreState(state);
        Assert.Equal(3, copy.CurrentTest);
        Assert.Equal(1u, copy.Count(3));
        Assert.Equal(Port, copy.BarAddress(1));
    }
}

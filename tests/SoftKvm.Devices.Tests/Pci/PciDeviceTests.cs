using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>The configuration header, BAR sizing and mapping, the capability list, INTx and ioeventfds in BARs.</summary>
public sealed class PciDeviceTests
{
    private readonly FakePciHost _host = new();
    private readonly PciBus _bus;
    private readonly TestFunction _f = new();

    public PciDeviceTests()
    {
        _bus = new PciBus(_host);
        _bus.Attach(2, 0, _f);
    }

    [Fact]
    public void HeaderHoldsTheIdentityReadOnly()
    {
        Assert.Equal(0x5678_1234u, Config.Read32(_f, 0x00));
        Assert.Equal(0x0C03_3007u, Config.Read32(_f, 0x08));
        Assert.Equal(0xBBBB_AAAAu, Config.Read32(_f, 0x2C));
        Assert.Equal(0, Config.Read8(_f, 0x0E));
        Config.Write32(_f, 0x00, 0);
        Config.Write32(_f, 0x08, 0);
        Config.Write32(_f, 0x2C, 0);
        Assert.Equal(0x5678_1234u, Config.Read32(_f, 0x00));
        Assert.Equal(0x0C03_3007u, Config.Read32(_f, 0x08));
        Assert.Equal(0xBBBB_AAAAu, Config.Read32(_f, 0x2C));
        Assert.Equal(0u, Config.Read32(_f, 0x30)); // no expansion ROM
        Assert.Equal(0, Config.Read8(_f, 0x1000 - 1)); // past the end of configuration space
    }

    [Fact]
    public void CommandKeepsOnlyImplementedBitsAndStatusErrorsClearByWritingOne()
    {
        Config.Write16(_f, 0x04, 0xFFFF);
        Assert.Equal(0x0547, Config.Read16(_f, 0x04));
        Assert.Equal(1 << 4, Config.Read16(_f, 0x06) & (1 << 4)); // capabilities list
        Config.Write16(_f, 0x06, 0xFFFF);
        Assert.Equal(1 << 4, Config.Read16(_f, 0x06));
    }

    [Fact]
    public void MultiFunctionBitFollowsTheFunctionsOfTheSlot()
    {
        var f1 = new PciHeaderFunction(new PciIdentity(0x8086, 0x7010, 0x010180));
        _bus.Attach(2, 1, f1);
        Assert.Equal(0x80, Config.Read8(_f, 0x0E));
        Assert.Equal(0, Config.Read8(f1, 0x0E));
        Assert.Equal(3, _bus.FreeSlot(2));
        Assert.Throws<SoftKvm.Core.Errors.SoftKvmException>(() => _bus.Attach(2, 1, new PciHeaderFunction(default)));
    }

    [Fact]
    public void BarsSizeByWritingAllOnes()
    {
        for (int bar = 0; bar < 6; bar++)
        {
            Config.Write32(_f, 0x10 + (bar * 4), 0xFFFF_FFFF);
        }

        Assert.Equal(0xFFFF_FFE1u, Config.Read32(_f, 0x10)); // 32 I/O ports
        Assert.Equal(0xFFFF_F000u, Config.Read32(_f, 0x14)); // 4 KiB, 32-bit, not prefetchable
        Assert.Equal(0xFFFF_C00Cu, Config.Read32(_f, 0x18)); // 16 KiB, 64-bit, prefetchable
        Assert.Equal(0xFFFF_FFFFu, Config.Read32(_f, 0x1C)); // its upper half
        Assert.Equal(0u, Config.Read32(_f, 0x20));
        Assert.Equal(0u, Config.Read32(_f, 0x24));
        Assert.Empty(_host.Messages);
    }

    [Fact]
    public void BarDecodesOnlyWhileItsSpaceIsEnabled()
    {
        Config.Write32(_f, 0x14, 0xE000_0000);
        Assert.Null(_f.BarAddress(1));
        Assert.Equal(uint.MaxValue, _host.GuestRead32(IoBusKind.Mmio, 0xE000_0000));

        Config.Write16(_f, 0x04, 0x0002);
        Assert.Equal(0xE000_0000UL, _f.BarAddress(1));
        Assert.Equal(0x5A5A_5A5Au, _host.GuestRead32(IoBusKind.Mmio, 0xE000_0FFC));
        _host.GuestWrite8(IoBusKind.Mmio, 0xE000_0010, 7);
        Assert.Equal(0x10UL, _f.Bar1.Writes[0].Offset);
        Assert.Equal([7], _f.Bar1.Writes[0].Data);

        Config.Write32(_f, 0x14, 0xE000_1000); // moved
        Assert.Equal(uint.MaxValue, _host.GuestRead32(IoBusKind.Mmio, 0xE000_0000));
        Assert.Equal(0x5A5A_5A5Au, _host.GuestRead32(IoBusKind.Mmio, 0xE000_1000));

        Config.Write16(_f, 0x04, 0);
        Assert.Null(_f.BarAddress(1));
        Assert.Equal(0, _host.MemorySpace.Count);
    }

    [Fact]
    public void IoAnd64BitBarsMapWhereTheirRegistersSay()
    {
        Config.Write32(_f, 0x10, 0xC001);
        Config.Write32(_f, 0x18, 0x0000_000C);
        Config.Write32(_f, 0x1C, 0x0000_0001);
        Config.Write16(_f, 0x04, 0x0003);
        Assert.Equal(0xC000UL, _f.BarAddress(0));
        Assert.Equal(0x1_0000_0000UL, _f.BarAddress(2));
        Assert.Equal(0x5A, _host.GuestRead8(IoBusKind.Pio, 0xC01F));
        Assert.True(_host.MemorySpace.TryFind(0x1_0000_3FFF, 1, out _, out _));
    }

    [Theory]
    [InlineData(0x10, 0x0001_0000u, 0, false)]  // I/O BAR past 64 KiB of ports
    [InlineData(0x10, 0x0000_FFE0u, 0, true)]   // the last 32 ports
    [InlineData(0x14, 0u, 1, false)]            // address 0 decodes nothing
    [InlineData(0x14, 0xFFFF_F000u, 1, true)]   // the last page below 4 GiB
    public void UnusableAddressesDecodeNothing(int register, uint value, int bar, bool mapped)
    {
        Config.Write32(_f, register, value);
        Config.Write16(_f, 0x04, 0x0003);
        Assert.Equal(mapped ? value & ~0xFUL : null, _f.BarAddress(bar));
    }

    [Fact]
    public void BarOverAnotherDeviceDecodesNothingAndIsReported()
    {
        _host.MemorySpace.Register(0xD000_0000, 0x1000, new TestFunction.Recorder());
        Config.Write32(_f, 0x14, 0xD000_0000);
        Config.Write16(_f, 0x04, 0x0002);
        Assert.Null(_f.BarAddress(1));
        Assert.Contains("BAR 1", Assert.Single(_host.Messages));
        Config.Write32(_f, 0x14, 0xD000_1000);
        Assert.Equal(0xD000_1000UL, _f.BarAddress(1));
    }

    [Fact]
    public void CapabilityListChainsMsiAndMsix()
    {
        int first = Config.Read8(_f, 0x34);
        Assert.Equal(0x40, first);
        Assert.Equal(0x05, Config.Read8(_f, first));
        int second = Config.Read8(_f, first + 1);
        Assert.Equal(0x11, Config.Read8(_f, second));
        Assert.Equal(0, Config.Read8(_f, second + 1));
        Assert.Equal(TestFunction.MsixVectors - 1, Config.Read16(_f, second + 2) & 0x7FF);
        Assert.Equal(2u, Config.Read32(_f, second + 4)); // table: BAR 2 offset 0
        Assert.Equal(0x802u, Config.Read32(_f, second + 8)); // PBA: BAR 2 offset 0x800
    }

    [Fact]
    public void IntxDrivesItsLineUnlessDisabledAndShowsInStatus()
    {
        var line = _host.Intx[(new PciAddress(0, 2, 0), 1)];
        Assert.Equal(1, Config.Read8(_f, 0x3D));
        _f.Intx(true);
        Assert.True(line.Level);
        Assert.Equal(1 << 3, Config.Read16(_f, 0x06) & (1 << 3));
        Config.Write16(_f, 0x04, 1 << 10);
        Assert.False(line.Level);
        Assert.Equal(1 << 3, Config.Read16(_f, 0x06) & (1 << 3)); // still pending inside the function
        Config.Write16(_f, 0x04, 0);
        Assert.True(line.Level);
        _f.Intx(false);
        Assert.False(line.Level);
        Assert.Equal(0, Config.Read16(_f, 0x06) & (1 << 3));
    }

    [Fact]
    public void IoEventFollowsItsBar()
    {
        using var fd = new EventFd();
        var handle = _f.IoEvent(1, 0x40, 4, null, fd);
        Assert.Equal(0, _host.KernelMemory.IoEventCount); // not mapped yet

        Config.Write32(_f, 0x14, 0xE000_0000);
        Config.Write16(_f, 0x04, 0x0002);
        Assert.True(_host.GuestWrite(IoBusKind.Mmio, 0xE000_0040, [1, 2, 3, 4]));
        Assert.Equal(1UL, fd.Drain());
        Assert.Empty(_f.Bar1.Writes); // the hypervisor took it

        Config.Write32(_f, 0x14, 0xE000_2000);
        Assert.Equal(1, _host.KernelMemory.IoEventCount);
        _host.GuestWrite(IoBusKind.Mmio, 0xE000_2040, [1, 2, 3, 4]);
        Assert.Equal(1UL, fd.Drain());

        _f.DropIoEvent(handle);
        Assert.Equal(0, _host.KernelMemory.IoEventCount);
        _host.GuestWrite(IoBusKind.Mmio, 0xE000_2040, [1, 2, 3, 4]);
        Assert.Single(_f.Bar1.Writes);
    }

    [Fact]
    public void StateRoundTripsAndRemaps()
    {
        Config.Write32(_f, 0x14, 0xE000_0000);
        Config.Write16(_f, 0x04, 0x0002);
        Config.Write8(_f, 0x3C, 11);
        var state = _f.SaveFunctionState();

        var host = new FakePciHost();
        var copy = new TestFunction();
        new PciBus(host).Attach(2, 0, copy);
        copy.RestoreFunctionState(state);
        Assert.Equal(0xE000_0000UL, copy.BarAddress(1));
        Assert.Equal(11, Config.Read8(copy, 0x3C));
        Assert.True(host.MemorySpace.TryFind(0xE000_0000, 4, out _, out _));
    }
}

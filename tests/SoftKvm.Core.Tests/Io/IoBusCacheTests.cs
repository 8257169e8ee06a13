using SoftKvm.Core.Io;
using SoftKvm.Core.Tests.Support;

namespace SoftKvm.Core.Tests.Io;

/// <summary>The bus look-up a caller remembers (<see cref="IoBusCache"/>): the same answers as the uncached bus, whatever changed.</summary>
public sealed class IoBusCacheTests
{
    private readonly IoBus _bus = new(IoBusKind.Mmio);
    private IoBusCache _cache;

    [Fact]
    public void ARememberedDeviceIsUsedAtOffsetsOfItsRangeAndNotOutsideIt()
    {
        var a = new RecordingDevice();
        var b = new RecordingDevice();
        _bus.Register(0x1000, 0x100, a);
        _bus.Register(0x2000, 0x100, b);
        Span<byte> d = stackalloc byte[4];

        Assert.True(_bus.Read(null, 0x1010, d, ref _cache));
        Assert.True(_bus.Read(null, 0x10fc, d, ref _cache)); // the remembered range, last word
        Assert.False(_bus.Read(null, 0x10fe, d, ref _cache)); // straddles the end: a miss, as uncached
        Assert.True(_bus.Read(null, 0x10fe, d[..2], ref _cache)); // the same address, inside
        Assert.False(_bus.Read(null, 0x1100, d, ref _cache)); // the gap after it
        Assert.True(_bus.Write(null, 0x2004, d, ref _cache)); // another device
        Assert.False(_bus.Read(null, 0xffe, d[..2], ref _cache)); // the gap before the first range
        Assert.False(_bus.Read(null, 0xfff, d, ref _cache)); // straddles the start of a

        Assert.Equal([(false, 0x10UL, 4), (false, 0xfcUL, 4), (false, 0xfeUL, 2)], a.Accesses);
        Assert.Equal([(true, 4UL, 4)], b.Accesses);
    }

    [Fact]
    public void ARememberedGapAnswersAMissUntilADeviceIsRegisteredThere()
    {
        Span<byte> d = stackalloc byte[4];
        Assert.False(_bus.Read(null, 0x3000, d, ref _cache)); // empty bus: the whole space is one gap
        Assert.False(_bus.Write(null, 0x3000, d, ref _cache));

        var dev = new RecordingDevice();
        _bus.Register(0x3000, 0x10, dev);
        Assert.True(_bus.Read(null, 0x3000, d, ref _cache));
        Assert.Single(dev.Accesses);
    }

    [Fact]
    public void ARememberedDeviceIsForgottenWhenItIsUnregisteredOrMoved()
    {
        var dev = new RecordingDevice();
        var other = new RecordingDevice();
        _bus.Register(0x1000, 0x100, dev);
        Span<byte> d = stackalloc byte[4];
        Assert.True(_bus.Read(null, 0x1000, d, ref _cache));

        _bus.Unregister(dev);
        Assert.False(_bus.Read(null, 0x1000, d, ref _cache));

        _bus.Register(0x1000, 0x100, other);
        _bus.Register(0x5000, 0x100, dev);
        Assert.True(_bus.Read(null, 0x1004, d, ref _cache));
        Assert.True(_bus.Read(null, 0x5008, d, ref _cache));
        Assert.Equal([(false, 4UL, 4)], other.Accesses);
        Assert.Equal([(false, 0UL, 4), (false, 8UL, 4)], dev.Accesses);
    }

    [Fact]
    public void AWriteGoesToAnIoEventOrACoalescedZoneFirstEvenWithADeviceRemembered()
    {
        var dev = new RecordingDevice();
        _bus.Register(0x1000, 0x100, dev);
        byte[] one = [1, 0, 0, 0];
        Assert.True(_bus.Write(null, 0x1000, one, ref _cache));

        using var signal = new EventFd();
        var ioEvent = new IoEvent(0x1000, 4, signal);
        _bus.RegisterIoEvent(ioEvent);
        Assert.True(_bus.Write(null, 0x1000, one, ref _cache));
        Assert.Equal(1UL, signal.Count);

        _bus.UnregisterIoEvent(ioEvent);
        _bus.RegisterCoalescedZone(0x1000, 0x10);
        Assert.True(_bus.Write(null, 0x1004, one, ref _cache));
        Assert.Equal(1, _bus.CoalescedRing.Count);
        Assert.Single(dev.Accesses); // only the first write reached the device
    }

    [Fact]
    public void AccessesAtTheTopOfTheAddressSpaceDoNotWrap()
    {
        var dev = new RecordingDevice();
        _bus.Register(ulong.MaxValue - 3, 4, dev);
        Span<byte> d = stackalloc byte[2];
        Assert.False(_bus.Read(null, ulong.MaxValue - 5, d, ref _cache)); // the gap below it
        Assert.True(_bus.Read(null, ulong.MaxValue - 1, d, ref _cache));
        Assert.False(_bus.Read(null, ulong.MaxValue, d, ref _cache)); // would wrap
        Assert.True(_bus.Read(null, ulong.MaxValue, d[..1], ref _cache));
        Assert.Equal([(false, 2UL, 2), (false, 3UL, 1)], dev.Accesses);
    }
}

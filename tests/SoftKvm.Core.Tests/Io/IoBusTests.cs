using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using SoftKvm.Core.Tests.Support;

namespace SoftKvm.Core.Tests.Io;

public sealed class IoBusTests
{
    private readonly IoBus _bus = new(IoBusKind.Mmio);

    [Fact]
    public void DispatchHonoursBaseMinusOneAndLastPlusOne()
    {
        var dev = new RecordingDevice();
        _bus.Register(0x1000, 0x100, dev);
        Span<byte> b = stackalloc byte[1];

        Assert.False(_bus.Read(null, 0xfff, b));
        Assert.True(_bus.Read(null, 0x1000, b));
        Assert.True(_bus.Read(null, 0x10ff, b));
        Assert.False(_bus.Read(null, 0x1100, b));
        Assert.Equal([(false, 0UL, 1), (false, 0xffUL, 1)], dev.Accesses);
    }

    [Fact]
    public void StraddlingAccessGoesToTheVmm()
    {
        var a = new RecordingDevice();
        var b = new RecordingDevice();
        _bus.Register(0x1000, 0x100, a);
        _bus.Register(0x1100, 0x100, b);

        Assert.False(_bus.Write(null, 0x10fe, new byte[4])); // crosses from a into b
        Assert.False(_bus.Write(null, 0x11fe, new byte[4])); // crosses past the end of b
        Assert.False(_bus.Read(null, 0xffe, new byte[4])); // starts before a
        Assert.True(_bus.Write(null, 0x10fc, new byte[4]));
        Assert.Empty(b.Accesses);
        Assert.Single(a.Accesses);
    }

    [Theory]
    [InlineData(0x1000UL, 0x100UL)]
    [InlineData(0xf00UL, 0x101UL)]
    [InlineData(0x10ffUL, 0x10UL)]
    [InlineData(0x1010UL, 0x10UL)]
    [InlineData(0x0UL, 0x10000UL)]
    public void OverlapIsRejected(ulong address, ulong length)
    {
        _bus.Register(0x1000, 0x100, new RecordingDevice());
        var e = Assert.Throws<IoBusException>(() => _bus.Register(address, length, new RecordingDevice()));
        Assert.Contains("overlaps", e.Message);
        Assert.Equal(1, _bus.Count);
    }

    [Fact]
    public void EmptyAndWrappingRangesAreRejected()
    {
        Assert.Throws<IoBusException>(() => _bus.Register(0x1000, 0, new RecordingDevice()));
        Assert.Throws<IoBusException>(() => _bus.Register(ulong.MaxValue - 1, 4, new RecordingDevice()));
        _bus.Register(ulong.MaxValue - 3, 4, new RecordingDevice()); // ends exactly at the top
        Assert.True(_bus.TryFind(ulong.MaxValue, 1, out _, out ulong offset));
        Assert.Equal(3UL, offset);
        Assert.False(_bus.TryFind(ulong.MaxValue, 2, out _, out _));
    }

    [Theory]
    [InlineData(1000)] // KVM's NR_IOBUS_DEVS, as a comparison point
    [InlineData(4096)]
    public void ManyDevicesAreAllReachable(int count)
    {
        var devices = new RecordingDevice[count];
        for (int i = count - 1; i >= 0; i--)
        {
            devices[i] = new RecordingDevice();
            _bus.Register(0x8000000UL + (ulong)i * 0x20000, 0x20000, devices[i]);
        }

        Assert.Equal(count, _bus.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.True(_bus.TryFind(0x8000000UL + (ulong)i * 0x20000 + 0x1fffc, 4, out var found, out ulong offset));
            Assert.Same(devices[i], found);
            Assert.Equal(0x1fffcUL, offset);
        }
    }

    [Fact]
    public void UnregisterRemovesOneDeviceAndKeepsTheOthers()
    {
        var a = new RecordingDevice();
        var b = new RecordingDevice();
        var c = new RecordingDevice();
        _bus.Register(0x1000, 0x100, a);
        _bus.Register(0x2000, 0x100, b);
        _bus.Register(0x3000, 0x100, c);

        _bus.Unregister(b);

        Assert.Equal(2, _bus.Count);
        Assert.True(_bus.TryFind(0x1000, 4, out var fa, out _));
        Assert.Same(a, fa);
        Assert.False(_bus.TryFind(0x2000, 4, out _, out _));
        Assert.True(_bus.TryFind(0x3000, 4, out var fc, out _));
        Assert.Same(c, fc);
        Assert.Throws<IoBusException>(() => _bus.Unregister(b));
        _bus.Register(0x2000, 0x100, b); // the range is free again
    }

    [Fact]
    public void IoEventWithDataMatchSignalsOnlyForThatValue()
    {
        var device = new RecordingDevice();
        _bus.Register(0x5000, 0x100, device);
        using var fd = new EventFd();
        _bus.RegisterIoEvent(new IoEvent(0x5050, 4, fd, dataMatch: 0xCAFE));

        Assert.True(_bus.Write(null, 0x5050, [0xFE, 0xCA, 0, 0]));
        Assert.Equal(1UL, fd.Count);
        Assert.Empty(device.Accesses); // consumed by the ioevent

        Assert.True(_bus.Write(null, 0x5050, [0xFF, 0xCA, 0, 0])); // other value: the device gets it
        Assert.True(_bus.Write(null, 0x5050, [0xFE, 0xCA])); // other length: the device gets it
        Assert.Equal(1UL, fd.Drain());
        Assert.Equal(0UL, fd.Count);
        Assert.Equal(2, device.Accesses.Count);
    }

    [Fact]
    public void ZeroLengthIoEventMatchesAnyWriteAtItsAddressAndFastMmio()
    {
        using var fd = new EventFd();
        int callbacks = 0;
        fd.Signaled += _ => callbacks++;
        var ev = new IoEvent(0x6000, 0, fd);
        _bus.RegisterIoEvent(ev);

        Assert.True(_bus.Write(null, 0x6000, [1]));
        Assert.True(_bus.Write(null, 0x6000, new byte[8]));
        Assert.False(_bus.Write(null, 0x6001, [1]));
        Assert.True(_bus.TrySignalFastMmio(0x6000));
        Assert.False(_bus.TrySignalFastMmio(0x6004));
        Assert.Equal(3UL, fd.Count);
        Assert.Equal(3, callbacks);
        Assert.True(fd.Wait(TimeSpan.Zero));

        _bus.UnregisterIoEvent(ev);
        Assert.False(_bus.Write(null, 0x6000, [1]));
        Assert.Throws<IoBusException>(() => _bus.UnregisterIoEvent(ev));
    }

    [Fact]
    public void IdenticalIoEventIsRejectedAndBadLengthToo()
    {
        using var fd = new EventFd();
        _bus.RegisterIoEvent(new IoEvent(0x7000, 2, fd, 5));
        Assert.Throws<IoBusException>(() => _bus.RegisterIoEvent(new IoEvent(0x7000, 2, fd, 5)));
        _bus.RegisterIoEvent(new IoEvent(0x7000, 2, fd, 6));
        Assert.Throws<IoBusException>(() => new IoEvent(0x7000, 3, fd));
        Assert.Throws<IoBusException>(() => new IoEvent(0x7000, 0, fd, 1));
    }

    [Fact]
    public void EventFdWakesAWaiterOnAnotherThread()
    {
        using var fd = new EventFd();
        bool woke = false;
        var waiter = new Thread(() => woke = fd.Wait(TimeSpan.FromSeconds(10)));
        waiter.Start();
        Thread.Sleep(20);
        fd.Signal();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(10)));
        Assert.True(woke);
    }

    [Fact]
    public void CoalescedZoneBuffersWritesUntilTheRingIsFull()
    {
        var bus = new IoBus(IoBusKind.Mmio, "mmio", new CoalescedMmioRing(capacity: 2));
        var device = new RecordingDevice();
        bus.Register(0x9000, 0x100, device);
        bus.RegisterCoalescedZone(0x9000, 0x10);

        Assert.True(bus.Write(null, 0x9000, [0x41]));
        Assert.True(bus.Write(null, 0x9004, [0x78, 0x56, 0x34, 0x12]));
        Assert.Empty(device.Accesses);
        Assert.True(bus.Write(null, 0x9000, [0x42])); // ring full: the device handles it
        Assert.Single(device.Accesses);
        Assert.False(bus.Read(null, 0x8000, new byte[1]));

        Assert.True(bus.CoalescedRing.TryDequeue(out var first));
        Assert.Equal(new CoalescedMmioEntry(0x9000, 1, false, 0x41), first);
        Assert.True(bus.CoalescedRing.TryDequeue(out var second));
        Assert.Equal(0x12345678UL, second.Data);
        Assert.False(bus.CoalescedRing.TryDequeue(out _));
        Assert.Throws<IoBusException>(() => bus.RegisterCoalescedZone(0x9008, 0x10));
        bus.UnregisterCoalescedZone(0x9000);
        Assert.Throws<IoBusException>(() => bus.UnregisterCoalescedZone(0x9000));
    }

    [Theory]
    [InlineData(IoBusKind.Pio, "pio", true)]
    [InlineData(IoBusKind.Pio, "user-pio", true)]
    [InlineData(IoBusKind.Mmio, "user-mmio", false)]
    public void CoalescedEntriesTakeTheBusKindNotItsName(IoBusKind kind, string name, bool isPio)
    {
        var bus = new IoBus(kind, name);
        bus.RegisterCoalescedZone(0x70, 2);

        Assert.True(bus.Write(null, 0x70, [0x8F]));

        Assert.True(bus.CoalescedRing.TryDequeue(out var entry));
        Assert.Equal(new CoalescedMmioEntry(0x70, 1, isPio, 0x8F), entry);
        Assert.Equal(kind, bus.Kind);
        Assert.Equal(name, bus.Name);
    }
}

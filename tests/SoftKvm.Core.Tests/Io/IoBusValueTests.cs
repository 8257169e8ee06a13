using SoftKvm.Core.Io;
using SoftKvm.Core.Tests.Support;

namespace SoftKvm.Core.Tests.Io;

/// <summary>The value forms of the bus's accesses (a vCPU's in-kernel MMIO exit) and their route cache.</summary>
public sealed class IoBusValueTests
{
    private readonly IoBus _bus = new(IoBusKind.Mmio);

    [Fact]
    public void SpanDeviceReadsAreZeroExtendedAtTheAccessWidth()
    {
        var device = new RecordingDevice();
        _bus.Register(0x1000, 0x100, device);
        Array.Fill(device.Memory, (byte)0xA5);
        device.Memory[0x10] = 0x11;
        var cache = default(IoBusCache);

        Assert.True(_bus.TryReadValue(null, 0x1010, 1, ref cache, out ulong b));
        Assert.True(_bus.TryReadValue(null, 0x1010, 2, ref cache, out ulong h));
        Assert.True(_bus.TryReadValue(null, 0x1010, 8, ref cache, out ulong d));
        Assert.Equal(0x11UL, b);
        Assert.Equal(0xA511UL, h);
        Assert.Equal(0xA5A5A5A5A5A5A511UL, d);
        Assert.Equal([(false, 0x10UL, 1), (false, 0x10UL, 2), (false, 0x10UL, 8)], device.Accesses);
    }

    [Fact]
    public void ValueDevicesAreCalledWithTheValueAndTheOffset()
    {
        var device = new ValueDevice();
        _bus.Register(0x2000, 0x100, device);
        var cache = default(IoBusCache);

        Assert.True(_bus.TryWriteValue(null, 0x2008, 4, 0xDEADBEEF, ref cache));
        Assert.True(_bus.TryReadValue(null, 0x2008, 4, ref cache, out ulong value));
        Assert.Equal(0xDEADBEEFUL, value);
        Assert.Equal(["W 8 4 deadbeef", "R 8 4"], device.Log);
    }

    [Fact]
    public void TheCachedRangeAnswersOnlyInsideItself()
    {
        var a = new ValueDevice();
        var b = new ValueDevice();
        _bus.Register(0x1000, 0x100, a);
        _bus.Register(0x1100, 0x100, b);
        var cache = default(IoBusCache);

        Assert.True(_bus.TryReadValue(null, 0x10f8, 8, ref cache, out _)); // a's last 8 bytes: a is cached
        Assert.False(_bus.TryReadValue(null, 0x10fc, 8, ref cache, out ulong straddling)); // into b: to the VMM
        Assert.Equal(0UL, straddling);
        Assert.False(_bus.TryReadValue(null, 0xffc, 4, ref cache, out _)); // below a
        Assert.True(_bus.TryReadValue(null, 0x1100, 4, ref cache, out _)); // b, found by the search
        Assert.True(_bus.TryReadValue(null, 0x1000, 1, ref cache, out _)); // a again
        Assert.Equal(["R f8 8", "R 0 1"], a.Log);
        Assert.Equal(["R 0 4"], b.Log);
    }

    [Fact]
    public void ARegistrationChangeDropsTheCachedRange()
    {
        var old = new ValueDevice();
        _bus.Register(0x3000, 0x100, old);
        var cache = default(IoBusCache);
        Assert.True(_bus.TryReadValue(null, 0x3000, 4, ref cache, out _));

        _bus.Unregister(old);
        Assert.False(_bus.TryReadValue(null, 0x3000, 4, ref cache, out _)); // not the unregistered device
        Assert.False(_bus.TryWriteValue(null, 0x3000, 4, 1, ref cache));

        var replacement = new ValueDevice();
        _bus.Register(0x3000, 0x80, replacement);
        Assert.True(_bus.TryReadValue(null, 0x3004, 4, ref cache, out _));
        Assert.False(_bus.TryReadValue(null, 0x3080, 4, ref cache, out _)); // the new range is shorter
        Assert.Single(old.Log);
        Assert.Equal(["R 4 4"], replacement.Log);
    }

    [Fact]
    public void ValueWritesGoToIoEventsAndCoalescedZonesFirst()
    {
        var device = new ValueDevice();
        _bus.Register(0x5000, 0x100, device);
        var cache = default(IoBusCache);
        Assert.True(_bus.TryWriteValue(null, 0x5010, 4, 7, ref cache)); // the device's range is cached
        using var fd = new EventFd();
        _bus.RegisterIoEvent(new IoEvent(0x5050, 4, fd, dataMatch: 0xCAFE));
        _bus.RegisterCoalescedZone(0x5080, 0x10);

        Assert.True(_bus.TryWriteValue(null, 0x5050, 4, 0xCAFE, ref cache));
        Assert.True(_bus.TryWriteValue(null, 0x5084, 2, 0x1234, ref cache));
        Assert.True(_bus.TryWriteValue(null, 0x5050, 4, 0xCAFF, ref cache)); // no match: the device

        Assert.Equal(1UL, fd.Count);
        Assert.Equal(1, _bus.CoalescedRing.Count);
        Assert.Equal(["W 10 4 7", "w 50 4 caff"], device.Log);
    }

    [Fact]
    public void ValueAccessesAllocateNothing()
    {
        _bus.Register(0x1000, 0x100, new ValueDevice { Quiet = true });
        var cache = default(IoBusCache);
        ulong sum = 0;
        void Round()
        {
            _bus.TryReadValue(null, 0x1000, 4, ref cache, out ulong v);
            _bus.TryWriteValue(null, 0x1004, 8, v, ref cache);
            sum += v;
        }

        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0UL, sum);
    }

    private sealed class ValueDevice : IIoValueDevice
    {
        private ulong _last;

        public List<string> Log { get; } = [];

        public bool Quiet { get; init; }

        public ulong ReadValue(Vcpu? vcpu, ulong offset, int size)
        {
            if (!Quiet)
            {
                Log.Add($"R {offset:x} {size}");
            }

            return _last;
        }

        public void WriteValue(Vcpu? vcpu, ulong offset, int size, ulong value)
        {
            if (!Quiet)
            {
                Log.Add($"W {offset:x} {size} {value:x}");
            }

            _last = value;
        }

        // The span forms (the bus's writes while an ioeventfd or coalesced zone is registered) log as "w".
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => throw new InvalidOperationException("the span form");

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            Span<byte> value = stackalloc byte[8];
            data.CopyTo(value);
            Log.Add($"w {offset:x} {data.Length} {BitConverter.ToUInt64(value):x}");
        }
    }
}

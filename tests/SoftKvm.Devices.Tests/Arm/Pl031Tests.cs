using SoftKvm.Devices.Arm;

namespace SoftKvm.Devices.Tests.Arm;

public class Pl031Tests
{
    private readonly ManualTime _time = new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
    private readonly FakeIrqLine _irq = new();

    [Fact]
    public void CounterFollowsTheHostClock()
    {
        using var rtc = new Pl031(_irq, _time);
        Assert.Equal(1_700_000_000u, Io.Read32(rtc, 0x000));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1_700_000_005u, Io.Read32(rtc, 0x000));
    }

    [Fact]
    public void LoadSetsTheCounter()
    {
        using var rtc = new Pl031(_irq, _time);
        Io.Write32(rtc, 0x008, 1000);
        Assert.Equal(1000u, Io.Read32(rtc, 0x000));
        Assert.Equal(1000u, Io.Read32(rtc, 0x008));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1002u, Io.Read32(rtc, 0x000));
    }

    [Fact]
    public void MatchEqualToCounterRaisesTheInterrupt()
    {
        using var rtc = new Pl031(_irq, _time);
        Io.Write32(rtc, 0x010, 1);
        Io.Write32(rtc, 0x004, 1_700_000_000);
        Assert.Equal(1u, Io.Read32(rtc, 0x014));
        Assert.Equal(1u, Io.Read32(rtc, 0x018));
        Assert.True(_irq.Level);
        Io.Write32(rtc, 0x01C, 1);
        Assert.False(_irq.Level);
        Assert.Equal(0u, Io.Read32(rtc, 0x014));
    }

    [Fact]
    public void MatchInTheFutureFiresFromATimer()
    {
        using var rtc = new Pl031(_irq);
        Io.Write32(rtc, 0x010, 1);
        uint now = Io.Read32(rtc, 0x000);
        Io.Write32(rtc, 0x004, now + 1);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!_irq.Level && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }

        Assert.True(_irq.Level);
    }

    [Fact]
    public void SixtyFourBitReadOfTheCounterAndMatch()
    {
        using var rtc = new Pl031(_irq, _time);
        Io.Write32(rtc, 0x004, 77);
        Span<byte> b = stackalloc byte[8];
        rtc.Read(null, 0x000, b);
        Assert.Equal((77UL << 32) | 1_700_000_000UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b));
    }

    [Fact]
    public void IdAndControlRegisters()
    {
        using var rtc = new Pl031(_irq, _time);
        Assert.Equal(0x31u, Io.Read32(rtc, 0xFE0));
        Assert.Equal(0xB1u, Io.Read32(rtc, 0xFFC));
        Assert.Equal(1u, Io.Read32(rtc, 0x00C));
    }
}

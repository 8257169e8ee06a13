using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests.X86;

public class CmosRtcTests
{
    private readonly ManualTime _time = new(new DateTimeOffset(2024, 2, 29, 13, 45, 30, TimeSpan.Zero));

    private static byte ReadReg(CmosRtc rtc, byte index)
    {
        Io.Write8(rtc, 0, index);
        return Io.Read8(rtc, 1);
    }

    private static void WriteReg(CmosRtc rtc, byte index, byte value)
    {
        Io.Write8(rtc, 0, index);
        Io.Write8(rtc, 1, value);
    }

    [Fact]
    public void TimeIsBcdTwentyFourHourByDefault()
    {
        var rtc = new CmosRtc(_time);
        Assert.Equal(0x30, ReadReg(rtc, 0x00));
        Assert.Equal(0x45, ReadReg(rtc, 0x02));
        Assert.Equal(0x13, ReadReg(rtc, 0x04));
        Assert.Equal(0x29, ReadReg(rtc, 0x07));
        Assert.Equal(0x02, ReadReg(rtc, 0x08));
        Assert.Equal(0x24, ReadReg(rtc, 0x09));
        Assert.Equal(0x20, ReadReg(rtc, 0x32));
        Assert.Equal(0x05, ReadReg(rtc, 0x06)); // Thursday = 5
        Assert.Equal(0x80, ReadReg(rtc, 0x0D));
    }

    [Fact]
    public void BinaryAndTwelveHourModes()
    {
        var rtc = new CmosRtc(_time);
        WriteReg(rtc, 0x0B, 0x04); // binary, 12-hour
        Assert.Equal(45, ReadReg(rtc, 0x02));
        Assert.Equal(0x80 | 1, ReadReg(rtc, 0x04)); // 1 PM
    }

    [Fact]
    public void WritingTheTimeMovesTheGuestClock()
    {
        var rtc = new CmosRtc(_time);
        WriteReg(rtc, 0x04, 0x08);
        Assert.Equal(0x08, ReadReg(rtc, 0x04));
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0x09, ReadReg(rtc, 0x04));
    }

    [Fact]
    public void IndexPortCarriesTheNmiBit()
    {
        var rtc = new CmosRtc(_time);
        Io.Write8(rtc, 0, 0x8F);
        Assert.True(rtc.NmiDisabled);
        Io.Write8(rtc, 1, 0x77);
        Io.Write8(rtc, 0, 0x0F);
        Assert.False(rtc.NmiDisabled);
        Assert.Equal(0x77, Io.Read8(rtc, 1));
    }

    [Fact]
    public void RegisterCReportsUpdateEndedOncePerSecond()
    {
        var rtc = new CmosRtc(_time);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0x10, ReadReg(rtc, 0x0C) & 0x10);
        Assert.Equal(0x00, ReadReg(rtc, 0x0C) & 0x10);
    }

    [Fact]
    public void InterruptEnablesAreReportedAsUnsupportedOnce()
    {
        var messages = new List<string>();
        var rtc = new CmosRtc(_time, messages.Add);
        WriteReg(rtc, 0x0B, 0x42);
        WriteReg(rtc, 0x0B, 0x52);
        Assert.Single(messages);
        Assert.Equal(0x52, ReadReg(rtc, 0x0B));
    }

    [Fact]
    public void MachineSetsRamButNotClockRegisters()
    {
        var rtc = new CmosRtc(_time);
        rtc.SetRam(0x34, 0x12);
        Assert.Equal(0x12, ReadReg(rtc, 0x34));
        Assert.Throws<ArgumentOutOfRangeException>(() => rtc.SetRam(0x00, 1));
    }
}

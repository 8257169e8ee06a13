using System.Buffers.Binary;
using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests.X86;

public class AcpiPmTests
{
    private int _powerOffs;
    private readonly List<string> _refused = [];
    private readonly AcpiPm _pm;

    public AcpiPmTests() => _pm = new AcpiPm(() => _powerOffs++, _refused.Add);

    private ushort Read16(ulong offset)
    {
        Span<byte> b = stackalloc byte[2];
        _pm.Read(null, offset, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    private void Write16(ulong offset, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        _pm.Write(null, offset, b);
    }

    [Fact]
    public void EnableBitsAreStoredAndOthersDropped()
    {
        Write16(2, 0xFFFF);
        Assert.Equal(0x0721, Read16(2));
        Assert.Equal(0x0721u, Io.Read32(_pm, 0) >> 16); // the event block read as one doubleword
    }

    [Fact]
    public void ControlKeepsSciEnAndSleepTypeButNotSleepEnable()
    {
        Write16(4, 0);
        Assert.Equal(AcpiPm.SciEnable, Read16(4));
        Write16(4, (5 << 10) | AcpiPm.SleepEnable);
        Assert.Equal((ushort)(AcpiPm.SciEnable | (5 << 10)), Read16(4));
        Assert.Equal(0, _powerOffs);
        Assert.Contains("sleep type 5", Assert.Single(_refused));
    }

    [Fact]
    public void SoftOffTakesSleepEnableWrittenAsAByte()
    {
        Io.Write8(_pm, 5, AcpiPm.SleepEnable >> 8); // SLP_TYP 0, SLP_EN in the high byte
        Assert.Equal(1, _powerOffs);
        Assert.Empty(_refused);
    }

    [Fact]
    public void TimerIs24BitsAndMoves()
    {
        uint a = Io.Read32(_pm, AcpiPm.TimerBlock);
        Thread.Sleep(5);
        uint b = Io.Read32(_pm, AcpiPm.TimerBlock);
        Assert.Equal(0u, (a | b) >> 24);
        Assert.NotEqual(a, b);
        Assert.Equal(0, Read16(0) & ~AcpiPm.TimerStatus); // no other status source
    }
}

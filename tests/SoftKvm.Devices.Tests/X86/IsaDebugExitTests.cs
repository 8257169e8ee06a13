using SoftKvm.Devices.X86;

namespace SoftKvm.Devices.Tests.X86;

public class IsaDebugExitTests
{
    [Theory]
    [InlineData(0u, 1)]
    [InlineData(1u, 3)]
    [InlineData(0x10u, 0x21)]
    public void ExitCodeIsValueShiftedOrOne(uint value, int expected)
    {
        int? code = null;
        var dev = new IsaDebugExit(c => code = c);
        Io.Write32(dev, 0, value);
        Assert.Equal(expected, code);
    }

    [Fact]
    public void ByteWriteUsesTheByte()
    {
        int? code = null;
        var dev = new IsaDebugExit(c => code = c);
        Io.Write8(dev, 0, 0x31);
        Assert.Equal(0x63, code);
        Assert.Equal(0u, Io.Read32(dev, 0));
    }
}

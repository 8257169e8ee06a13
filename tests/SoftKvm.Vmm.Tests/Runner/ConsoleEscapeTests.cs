using System.Text;
using SoftKvm.Vmm.Runner;

namespace SoftKvm.Vmm.Tests.Runner;

/// <summary>QEMU's -nographic console keys: Ctrl-C is the guest's, Ctrl-A starts a command.</summary>
public class ConsoleEscapeTests
{
    private int _quits;
    private readonly StringBuilder _help = new();

    private ConsoleEscape Create() => new(() => _quits++, h => _help.Append(h));

    private static byte[] Filter(ConsoleEscape escape, params byte[] input)
    {
        var output = new byte[input.Length + 1];
        int n = escape.Filter(input, output);
        return output[..n];
    }

    [Fact]
    public void CtrlCAndOrdinaryKeysGoToTheGuest()
    {
        var escape = Create();
        Assert.Equal(new byte[] { (byte)'l', (byte)'s', 0x03, 0x0D }, Filter(escape, (byte)'l', (byte)'s', 0x03, 0x0D));
        Assert.Equal(0, _quits);
    }

    [Fact]
    public void CtrlAXEndsTheRunAndSendsNothing()
    {
        var escape = Create();
        Assert.Equal(new byte[] { (byte)'a' }, Filter(escape, (byte)'a', 0x01, (byte)'x'));
        Assert.Equal(1, _quits);
    }

    [Fact]
    public void CtrlASTakesASnapshotWhenTheRunHasAFileElseGoesToTheGuest()
    {
        int snapshots = 0;
        var withSnapshot = new ConsoleEscape(() => _quits++, h => _help.Append(h), () => snapshots++);
        Assert.Equal(new byte[] { (byte)'a' }, Filter(withSnapshot, (byte)'a', 0x01, (byte)'s'));
        Assert.Equal((1, 0), (snapshots, _quits));

        Assert.Equal(new byte[] { 0x01, (byte)'s' }, Filter(Create(), 0x01, (byte)'s'));
    }

    [Fact]
    public void CtrlATwiceSendsOneCtrlAAndOtherKeysAreKept()
    {
        var escape = Create();
        Assert.Equal(new byte[] { 0x01 }, Filter(escape, 0x01, 0x01));
        Assert.Equal(new byte[] { 0x01, (byte)'q' }, Filter(escape, 0x01, (byte)'q'));
        Assert.Equal(0, _quits);
    }

    [Fact]
    public void CommandSplitAcrossReadsStillWorks()
    {
        var escape = Create();
        Assert.Empty(Filter(escape, 0x01));
        Assert.Empty(Filter(escape, (byte)'h'));
        Assert.Equal(ConsoleEscape.HelpText, _help.ToString());
        Assert.Empty(Filter(escape, 0x01));
        Assert.Empty(Filter(escape, (byte)'X'));
        Assert.Equal(1, _quits);
    }

    [Fact]
    public void OutputMustLeaveRoomForAFlushedCtrlA()
    {
        var escape = Create();
        Assert.Throws<ArgumentException>(() => escape.Filter(new byte[4], new byte[4]));
    }

    [Fact]
    public void InputPumpFiltersThroughTheEscape()
    {
        var received = new List<byte>();
        using var pump = new InputPump(
            new MemoryStream([(byte)'a', 0x03, 0x01, 0x01, 0x01, (byte)'x', (byte)'b']),
            data =>
            {
                lock (received)
                {
                    received.AddRange(data.ToArray());
                }

                return data.Length;
            },
            Create());
        Assert.True(pump.WaitForEnd(TimeSpan.FromSeconds(10)));
        Assert.Equal(new byte[] { (byte)'a', 0x03, 0x01, (byte)'b' }, received.ToArray());
        Assert.Equal(1, _quits);
    }
}

using SoftKvm.Vmm.Runner;

namespace SoftKvm.Vmm.Tests.Runner;

public class InputPumpTests
{
    [Fact]
    public void DeliversEverythingWithBackPressure()
    {
        var received = new List<byte>();
        int calls = 0;
        using var pump = new InputPump(new MemoryStream("hello, guest"u8.ToArray()), data =>
        {
            // A FIFO that takes at most two bytes, and nothing every other call.
            if (++calls % 2 == 0)
            {
                return 0;
            }

            int n = Math.Min(2, data.Length);
            lock (received)
            {
                received.AddRange(data[..n].ToArray());
            }

            return n;
        });
        Assert.True(pump.WaitForEnd(TimeSpan.FromSeconds(10)));
        Assert.True(pump.Ended);
        Assert.Equal("hello, guest", System.Text.Encoding.ASCII.GetString(received.ToArray()));
        Assert.Equal(12, pump.Delivered);
    }

    [RedirectedStdinFact]
    public void RawModeIsNotEnteredWhenStdinIsNotATerminal() => Assert.Null(TerminalRawMode.TryEnter());

    /// <summary>
    /// A fact that needs standard input redirected (as under CI and <c>dotnet test</c> from a script):
    /// on a terminal, entering raw mode would change the developer's terminal, so it is skipped with the reason.
    /// </summary>
    private sealed class RedirectedStdinFactAttribute : FactAttribute
    {
        public RedirectedStdinFactAttribute()
        {
            if (!Console.IsInputRedirected)
            {
                Skip = "standard input is a terminal: raw mode would be entered on the developer's terminal";
            }
        }
    }
}

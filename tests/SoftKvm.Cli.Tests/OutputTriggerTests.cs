using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>The console watch of <c>--snapshot-on-output</c>: bytes pass untouched, the text is found across writes, the action runs once.</summary>
public sealed class OutputTriggerTests
{
    [Fact]
    public void TheTextIsFoundAcrossWritesAndTheActionRunsOnceAfterIt()
    {
        var inner = new MemoryStream();
        var seenAtMatch = new List<string>();
        var trigger = new OutputTrigger(inner, "abab"u8.ToArray(), () => seenAtMatch.Add(Encoding.ASCII.GetString(inner.ToArray())));
        foreach (string piece in (string[])["xa", "bab", "ab", "cababab"])
        {
            trigger.Write(Encoding.ASCII.GetBytes(piece));
        }

        Assert.Equal("xabababcababab", Encoding.ASCII.GetString(inner.ToArray()));
        Assert.Equal(["xabab"], seenAtMatch);
    }

    [Fact]
    public void APartialMatchThatFailsRestartsCorrectly()
    {
        var inner = new MemoryStream();
        int matches = 0;
        var trigger = new OutputTrigger(inner, "aab"u8.ToArray(), () => matches++);
        foreach (byte b in "aaaab"u8.ToArray())
        {
            trigger.Write([b]);
        }

        Assert.Equal(1, matches);
    }
}

using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Runner;

namespace SoftKvm.Vmm.Tests.Runner;

/// <summary>
/// Console input of deterministic execution (docs/snapshots.md#deterministic-execution): live bytes wait for a
/// round boundary and are recorded with it; a record file gives the same bytes at the same rounds; a guest that
/// takes fewer bytes gets the rest at the next boundary; bad files are refused with a line saying why.
/// </summary>
public sealed class ConsoleInputScheduleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-input-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void LiveInputIsDeliveredAtABoundaryAndRecordedWithIt()
    {
        string path = Path.Combine(_dir, "r.rec");
        var taken = new List<byte>();
        using (var live = ConsoleInputSchedule.Live(path))
        {
            Assert.False(live.Deliver(0, 10, Take(taken, 8), null));
            Assert.Equal(3, live.Offer("abc"u8));
            Assert.True(live.HasPending);
            Assert.True(live.Deliver(4, 500, Take(taken, 2), null)); // the guest takes two bytes
            Assert.True(live.Deliver(5, 600, Take(taken, 8), null)); // and the third at the next boundary
            Assert.False(live.HasPending);
            Assert.Equal(3, live.Delivered);
        }

        Assert.Equal("abc"u8.ToArray(), taken);
        Assert.Equal("softkvm-input-record 1\n4 500 6162\n5 600 63\n", File.ReadAllText(path));

        var replayed = new List<byte>();
        using var replay = ConsoleInputSchedule.Replay(path);
        Assert.False(replay.IsLive);
        for (long round = 0; round < 4; round++)
        {
            Assert.False(replay.Deliver(round, 100 * round, Take(replayed, 8), null));
        }

        Assert.True(replay.Deliver(4, 500, Take(replayed, 8), null));
        Assert.Equal("ab"u8.ToArray(), replayed);
        Assert.True(replay.Deliver(5, 600, Take(replayed, 8), null));
        Assert.Equal("abc"u8.ToArray(), replayed);
        Assert.False(replay.HasPending);
    }

    [Fact]
    public void AReplayThatNoLongerFitsTheGuestIsReportedOnce()
    {
        string path = Path.Combine(_dir, "r.rec");
        File.WriteAllText(path, "softkvm-input-record 1\n2 100 41\n3 200 42\n");
        using var replay = ConsoleInputSchedule.Replay(path);
        var log = new StringWriter();
        var taken = new List<byte>();
        replay.Deliver(2, 999, Take(taken, 8), log);
        replay.Deliver(3, 998, Take(taken, 8), log);
        Assert.Equal("AB"u8.ToArray(), taken);
        var line = Assert.Single(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("the replay diverged from its recording: input recorded for round 2 at 100 ns came at round 2, 999 ns", line);
    }

    [Theory]
    [InlineData("", "is not a softkvm input record")]
    [InlineData("softkvm-input-record 2\n", "is not a softkvm input record")]
    [InlineData("softkvm-input-record 1\n1 2\n", "line 2 is not 'ROUND NANOSECONDS HEX'")]
    [InlineData("softkvm-input-record 1\n1 2 4\n", "line 2 is not")]
    [InlineData("softkvm-input-record 1\n1 2 4x\n", "line 2 is not")]
    [InlineData("softkvm-input-record 1\n-1 2 41\n", "line 2 is not")]
    [InlineData("softkvm-input-record 1\n5 2 41\n5 3 42\n", "line 3 is not")]
    public void ABadRecordFileIsRefused(string text, string message)
    {
        string path = Path.Combine(_dir, "bad.rec");
        File.WriteAllText(path, text);
        var e = Assert.Throws<InputFileException>(() => ConsoleInputSchedule.Replay(path));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static InputPump.InputSink Take(List<byte> into, int most) => data =>
    {
        int n = Math.Min(most, data.Length);
        into.AddRange(data[..n].ToArray());
        return n;
    };
}

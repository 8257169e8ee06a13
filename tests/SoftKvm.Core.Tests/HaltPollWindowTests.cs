using SoftKvm.Core.Run;

namespace SoftKvm.Core.Tests;

/// <summary>The adaptive halt-polling window: KVM's grow and shrink rules (docs/kvm-semantics.md#halt-polling).</summary>
public sealed class HaltPollWindowTests
{
    private const long Max = 200_000;

    [Fact]
    public void ShortHaltsGrowTheWindowFromTheStartValueUpToTheMaximum()
    {
        var w = new HaltPollWindow();
        long[] expected = [10_000, 20_000, 40_000, 80_000, 160_000, 200_000];
        foreach (long e in expected)
        {
            w.Update(Math.Min(w.Ns + 1_000, Max - 1), Max, validWakeup: true); // a halt a little longer than the window, shorter than the maximum
            Assert.Equal(e, w.Ns);
        }

        w.Update(150_000, Max, validWakeup: true); // within the window: it stays at the maximum
        Assert.Equal(Max, w.Ns);
    }

    [Fact]
    public void AHaltThePollEndedKeepsTheWindow()
    {
        var w = new HaltPollWindow { Ns = 40_000 };
        w.Update(25_000, Max, validWakeup: true);
        Assert.Equal(40_000, w.Ns);
    }

    [Fact]
    public void LongHaltsShrinkTheWindowHalfByHalfToZero()
    {
        var w = new HaltPollWindow { Ns = 80_000 };
        w.Update(5_000_000, Max, validWakeup: true);
        Assert.Equal(40_000, w.Ns);
        w.Update(5_000_000, Max, validWakeup: true);
        Assert.Equal(20_000, w.Ns);
        w.Update(5_000_000, Max, validWakeup: true);
        Assert.Equal(10_000, w.Ns);
        w.Update(5_000_000, Max, validWakeup: true);
        Assert.Equal(0, w.Ns); // below the start value: off
        w.Update(5_000_000, Max, validWakeup: true);
        Assert.Equal(0, w.Ns); // a long halt never starts polling
    }

    [Fact]
    public void AMaximumOfZeroTurnsPollingOffAndAnInvalidWakeUpShrinks()
    {
        var w = new HaltPollWindow { Ns = 80_000 };
        w.Update(1_000, 0, validWakeup: true);
        Assert.Equal(0, w.Ns);

        w.Ns = 80_000;
        w.Update(1_000, Max, validWakeup: false);
        Assert.Equal(40_000, w.Ns);
    }
}

/// <summary>The host run-queue reading that stands in for KVM's <c>single_task_running</c>.</summary>
public sealed class HostRunQueueTests
{
    [Theory]
    [InlineData("0.52 0.58 0.59 3/1033 12345\n", 3)]
    [InlineData("28.37 33.00 28.31 29/374 6924\n", 29)]
    [InlineData("garbage", int.MaxValue)]
    [InlineData("1.0 1.0 1.0 /12 5", int.MaxValue)]
    public void TheRunnableCountIsTheNumberBeforeTheSlash(string line, int expected) =>
        Assert.Equal(expected, HostRunQueue.Parse(System.Text.Encoding.ASCII.GetBytes(line)));

    [Fact]
    public void OnLinuxTheCountIsReadAndElsewhereTheHostCountsAsBusy()
    {
        int n = HostRunQueue.Runnable();
        if (OperatingSystem.IsLinux())
        {
            Assert.InRange(n, 1, 1_000_000); // this thread at least
        }
        else
        {
            Assert.Equal(int.MaxValue, n);
        }
    }
}

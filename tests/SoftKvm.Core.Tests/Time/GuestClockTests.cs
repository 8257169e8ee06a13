using System.Diagnostics;
using SoftKvm.Core.Tests.Support;
using SoftKvm.Core.Time;

namespace SoftKvm.Core.Tests.Time;

/// <summary>
/// The guest clock (docs/snapshots.md#deterministic-execution): the host's time by default; made virtual, a
/// time that moves only between turns by jumps that never go back, a wall clock at the epoch, and timers
/// that fire in due order when the runner asks.
/// </summary>
public sealed class GuestClockTests
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ByDefaultTheClockIsTheHosts()
    {
        var clock = new GuestClock();
        long before = Stopwatch.GetTimestamp();
        long t = clock.Timestamp();
        Assert.False(clock.IsVirtual);
        Assert.InRange(t, before, Stopwatch.GetTimestamp());
        Assert.InRange(clock.TimeProvider.GetUtcNow(), DateTimeOffset.UtcNow.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5));
    }

    [Fact]
    public void VirtualTimeStartsAtTheEpochAndJumpsOnlyForward()
    {
        var clock = new GuestClock();
        clock.MakeVirtual(Epoch, 5_000);
        Assert.True(clock.IsVirtual);
        Assert.Equal(5_000, clock.Nanoseconds);
        Assert.Equal(GuestClock.TicksOf(5_000), clock.Timestamp());
        Assert.Equal(Epoch.AddTicks(50), clock.TimeProvider.GetUtcNow());
        Thread.Sleep(2);
        Assert.Equal(5_000, clock.Nanoseconds); // the host's time does not move it

        clock.AdvanceTo(3_000);
        Assert.Equal(5_000, clock.Nanoseconds);
        clock.AdvanceTo(9_000);
        Assert.Equal(9_000, clock.Nanoseconds);
        Assert.Equal(9_000, GuestClock.NanosecondsOf(GuestClock.TicksOf(9_000)));
        Assert.Equal(long.MaxValue, GuestClock.NanosecondsOf(long.MaxValue));
    }

    [Fact]
    public void TheClockJumpsOnlyBetweenTurns()
    {
        var vm = new ScriptedVm();
        var vcpu = vm.CreateVcpu(0);
        vm.MakeClockVirtual(Epoch);
        vm.Clock.BeginTurn(vcpu);
        Assert.True(vm.Clock.InTurn);
        Assert.Throws<InvalidOperationException>(() => vm.Clock.AdvanceTo(100));
        vm.Clock.EndTurn();
        vm.Clock.AdvanceTo(100);
        Assert.Equal(100, vm.Clock.Nanoseconds);
    }

    [Fact]
    public void VirtualTimersFireInDueOrderWhenTheRunnerAsks()
    {
        var clock = new GuestClock();
        clock.MakeVirtual(Epoch);
        var fired = new List<string>();
        using var periodic = clock.TimeProvider.CreateTimer(_ => fired.Add($"p{clock.Nanoseconds}"), null, TimeSpan.FromTicks(1), TimeSpan.FromTicks(1)); // 100 ns
        using var once = clock.TimeProvider.CreateTimer(_ => fired.Add("once"), null, TimeSpan.FromTicks(2) + TimeSpan.FromTicks(1) / 2, Timeout.InfiniteTimeSpan); // 250 ns
        Assert.Equal(100, clock.NextTimerDue);

        clock.FireDueTimers();
        Assert.Empty(fired);

        clock.AdvanceTo(350);
        clock.FireDueTimers();
        Assert.Equal(["p350", "p350", "once", "p350"], fired);
        Assert.Equal(400, clock.NextTimerDue);

        periodic.Dispose();
        Assert.Equal(long.MaxValue, clock.NextTimerDue);
    }

    [Fact]
    public void AHostClocksTimersAreTheHosts()
    {
        var clock = new GuestClock();
        using var fired = new ManualResetEventSlim();
        using var timer = clock.TimeProvider.CreateTimer(_ => fired.Set(), null, TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
        Assert.True(fired.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(long.MaxValue, clock.NextTimerDue);
    }
}

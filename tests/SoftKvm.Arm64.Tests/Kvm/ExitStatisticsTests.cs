using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// <c>exits</c> counts every return from guest execution, whatever its reason, as on x86 (and as KVM
/// counts every exit from guest mode, host interrupts included): the returns at the end of an
/// instruction budget and for a kick count too, not only the traps.
/// </summary>
public sealed class ExitStatisticsTests
{
    // loop: subs x1, x1, #1; b.ne loop; str x2, [x3] (exit marker)
    private static readonly uint[] CountDown = [0xf1000421u, 0x54ffffe1u, 0xf9000062u];

    [Fact]
    public void BudgetReturnsCountAsExits()
    {
        using var m = new TestMachine();
        var v = m.Start(CountDown);
        SetX(v, 1, 40_000); // 80,000 instructions: several instruction budgets
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(1UL, Stat(v, "mmio_exit_user"));
        Assert.True(Stat(v, "exits") >= 3, $"exits {Stat(v, "exits")}: the budget returns were not counted");
    }

    [Fact]
    public void AKickThatStopsTheGuestCountsAsAnExitAndASignalExit()
    {
        using var m = new TestMachine();
        var v = m.Start(0x14000000u); // b .
        using var kick = new Timer(_ => v.Kick(), null, 100, Timeout.Infinite);
        Assert.Equal(RunResult.Interrupted, v.Run());
        Assert.Equal(ExitReason.Intr, v.RunState.ExitReason);
        Assert.Equal(1UL, Stat(v, "signal_exits"));
        Assert.True(Stat(v, "exits") >= 1, "the return for the kick was not counted");
    }
}

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

    // loop: movz x0, #0x8400, lsl #16 (PSCI_VERSION); hvc #0; subs x1, x1, #1; b.ne loop; str x2, [x3] (exit marker)
    private static readonly uint[] HvcLoop = [0xd2b08000u, 0xd4000002u, 0xf1000421u, 0x54ffffa1u, 0xf9000062u];

    [Fact]
    public void HvcsAnsweredInPlaceCountOnceEachAsExitsAndAsInstructions()
    {
        // The PE goes on after each HVC the hypervisor answers without leaving its run (native code: in the block, after the
        // hypercall helper): every HVC is still one exit and one hvc_exit_stat, and retires exactly once.
        using var m = new TestMachine();
        var v = m.Start(HvcLoop);
        SetX(v, 1, 10_000);
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(10_000UL, Stat(v, "hvc_exit_stat"));
        Assert.True(Stat(v, "exits") >= 10_001, $"exits {Stat(v, "exits")}");
        Assert.Equal(40_000L, v.InstructionsRetired); // the store waits for its completion
        Assert.Equal(0x1_0000UL, X(v, 0));             // PSCI 1.0
        Assert.Equal(CodeBase + 16, Pc(v));
        if (Cpu.Arm64Cpu.NativeSupported && Cpu.Arm64Cpu.DefaultTranslation)
        {
            long helper = v.CpuModelCounters().Single(c => c.Key == "native_hypercall_helper_calls").Value;
            Assert.True(helper >= 9_000, $"hypercall helper calls {helper}: the HVCs ran in the interpreter");
        }
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

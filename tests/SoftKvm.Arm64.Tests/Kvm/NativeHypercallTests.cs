using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// HVC #0 calls native code answers itself from the hypervisor's fixed answers (Arm64Cpu.Hypercalls.cs, issue 19):
/// PSCI_VERSION, SMCCC_VERSION and MIGRATE_INFO_TYPE answered as the hypervisor answers them, every call still one exit and
/// one <c>hvc_exit_stat</c>, retired once; other calls and other immediates still reach the hypervisor; nothing answered
/// natively while exits are timed.
/// </summary>
public sealed class NativeHypercallTests
{
    // P: PSCI_VERSION, SMCCC_VERSION, MIGRATE_INFO_TYPE, PSCI_FEATURES(CPU_ON), and PSCI_VERSION through HVC #1, each
    // answer added to x2; subs x7,x7,#1; b.ne P; str x2,[x3] (the marker).
    private static readonly uint[] Calls =
    [
        0x52b08000u, 0xd4000002u, 0x8b000042u,                           // movz w0,#0x8400,lsl #16; hvc #0; add x2,x2,x0
        0x52b00000u, 0xd4000002u, 0x8b000042u,                           // movz w0,#0x8000,lsl #16 (SMCCC_VERSION)
        0x52b08000u, 0x11001800u, 0xd4000002u, 0x8b000042u,              // 0x84000006 (MIGRATE_INFO_TYPE)
        0x52b08000u, 0x11002800u, 0x52b88001u, 0x11000c21u, 0xd4000002u, 0x8b000042u, // FEATURES(0xC4000003): 0
        0x52b08000u, 0xd4000022u, 0x8b000042u,                           // hvc #1: NOT_SUPPORTED (-1)
        0xf10004e7u, 0x54fffd81u,                                        // subs x7,x7,#1; b.ne P
        0xf9000062u,                                                     // str x2,[x3]
    ];

    private const ulong PerRound = 0x1_0000 + 0x1_0001 + 2 + 0 - 1;

    private static bool Native => Arm64Cpu.NativeSupported && Arm64Cpu.DefaultTranslation;

    private static long Counter(Arm64Vcpu v, string name) => v.CpuModelCounters().Single(c => c.Key == name).Value;

    private static Arm64Vcpu Start(TestMachine m, int rounds)
    {
        var v = m.Start(Calls);
        SetX(v, 2, 0);
        SetX(v, 3, MarkerBase);
        SetX(v, 7, (ulong)rounds);
        return v;
    }

    [Fact]
    public void FixedCallsInALoop_AnsweredAsTheHypervisorDoes_EachOneExitOneHvcExitStat_RetiredOnce()
    {
        const int rounds = 300;
        using var m = new TestMachine();
        var v = Start(m, rounds);
        Assert.Equal(RunResult.Ok, m.Run());

        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(PerRound * rounds, X(v, 2));
        Assert.Equal(5UL * rounds, Stat(v, "hvc_exit_stat"));
        Assert.Equal(5UL * rounds + 1, Stat(v, "exits"));
        Assert.Equal(21L * rounds, v.InstructionsRetired); // the marker store has not retired
        Assert.Equal(CodeBase + 4 * 21, Pc(v));
        if (Native)
        {
            long answered = Counter(v, "native_hypercalls");
            Assert.True(answered >= 3 * (rounds - 2), $"native code answered {answered} calls");
            Assert.True(answered <= 3 * rounds, $"native code answered {answered} calls: more than the fixed ones");
        }
    }

    [Fact]
    public void WithExitsTimed_EveryCallReachesTheHypervisor()
    {
        const int rounds = 50;
        using var m = new TestMachine();
        var v = Start(m, rounds);
        v.TimeExits();
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(PerRound * rounds, X(v, 2));
        Assert.Equal(5UL * rounds, Stat(v, "hvc_exit_stat"));
        Assert.True(v.ExitHandlingTime(v.Stats.Schema.IndexOf("hvc_exit_stat")) > TimeSpan.Zero);
        if (Native)
        {
            Assert.Equal(0, Counter(v, "native_hypercalls"));
        }
    }

    [Fact]
    public void OnTheSmcConduit_HvcStaysUndefined()
    {
        // hvc #0 twice with PSCI_VERSION: each an UNDEFINED exception (its vector counts them in x9), neither answered.
        using var m = new TestMachine();
        m.Load(CodeBase, 0x52b08000u, 0xd4000002u, 0xd4000002u, 0xf9000069u); // ...; str x9,[x3]
        m.Load(VectorBase + 0x200, 0x91000529u, 0xd538402au, 0x9100114au, 0xd518402au, 0xd69f03e0u); // add x9,#1; ELR += 4 (x10); eret
        var v = m.Init(m.Vcpu, CodeBase, new Arm64VcpuInit { PsciConduit = PsciConduit.Smc });
        SetX(v, 3, MarkerBase);
        SetX(v, 9, 0);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(2UL, X(v, 9));
        Assert.Equal(0x8400_0000UL, X(v, 0));
        Assert.Equal(2UL, Stat(v, "undef_insn"));
        if (Native)
        {
            Assert.Equal(0, Counter(v, "native_hypercalls"));
        }
    }

    [Fact]
    public void AnsweredCalls_AllocateNothing()
    {
        // A run of 100 rounds and one of 3,000 allocate the same: nothing per call.
        using var m = new TestMachine();
        var v = Start(m, 100);
        Assert.Equal(RunResult.Ok, v.Run());
        long Again(int rounds)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            v.RunState.ImmediateExit = true;
            v.Run();
            v.RunState.ImmediateExit = false;
            v.SetRegister(Arm64CoreRegister.Pc, CodeBase);
            SetX(v, 7, (ulong)rounds);
            v.Run();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Again(100);
        Again(3_000);
        Assert.Equal(Again(100), Again(3_000));
        Assert.Equal(5UL * (100 + 100 + 3_000 + 100 + 3_000), Stat(v, "hvc_exit_stat"));
    }
}

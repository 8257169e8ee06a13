using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>
/// Native blocks cannot be told apart from the interpreter: the same state and retired count, traps and
/// exceptions at the right instruction, stale code never run (also through linked exits), requests
/// honoured inside a native loop, and no allocation once the blocks exist.
/// </summary>
public sealed class TranslationTests
{
    // 1: ldr x2,[x0],#8; eor x3,x3,x2,ror #7; add x4,x4,x2,lsl #1; tbz w2,#3,2f; sub x4,x4,#5
    // 2: str x4,[x5,x6,lsl #3]; and x6,x7,#7; csel x8,x3,x4,ne; subs x7,x7,#1; b.ne 1b; str x8,[x9]
    private static readonly uint[] s_mixedLoop =
    [
        0xf8408402u, 0xcac21c63u, 0x8b020484u, 0x36180042u, 0xd1001484u,
        0xf82678a4u, 0x924008e6u, 0x9a841068u, 0xf10004e7u, 0x54fffee1u, 0xf9000128u,
    ];

    private static (ulong[] Registers, long Retired, byte[] Stores) RunMixedLoop(bool translate)
    {
        using var m = new TestMachine();
        var v = m.Start(s_mixedLoop);
        v.Cpu.TranslationEnabled = translate;
        var data = new byte[8 * 3000];
        new Random(7).NextBytes(data);
        m.Vm.Memory.Write(new GuestPhysAddr(RamBase + 0x10000), data);
        SetX(v, 0, RamBase + 0x10000);
        SetX(v, 5, RamBase + 0x20000);
        SetX(v, 7, 3000);
        SetX(v, 9, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        var stores = new byte[64];
        m.Vm.Memory.Read(new GuestPhysAddr(RamBase + 0x20000), stores);
        if (translate)
        {
            Assert.True(v.Cpu.Counters.BlocksTranslated > 0);
            Assert.True(v.Cpu.Counters.TranslatedInstructions > 25_000, $"{v.Cpu.Counters.TranslatedInstructions} of {v.Cpu.Retired} translated");
        }
        else
        {
            Assert.Equal(0, v.Cpu.Counters.TranslatedInstructions);
        }

        return ([.. Enumerable.Range(0, 10).Select(n => X(v, n)), Pc(v), v.Cpu.State.Nzcv], v.Cpu.Retired, stores);
    }

    [Fact]
    public void TranslatedLoop_EndsInTheInterpretersStateWithTheSameRetiredCount()
    {
        var interpreted = RunMixedLoop(translate: false);
        var translated = RunMixedLoop(translate: true);
        Assert.Equal(interpreted.Registers, translated.Registers);
        Assert.Equal(interpreted.Retired, translated.Retired);
        Assert.Equal(interpreted.Stores, translated.Stores);
    }

    [Fact]
    public void MmioLoadInsideATranslatedLoop_ExitsAtTheLoadAndCompletesOnce()
    {
        // 1: add x1,x1,#1; ldr w2,[x0] (MMIO); add x3,x3,x2; subs x7,x7,#1; b.ne 1b; str x3,[x9]
        using var m = new TestMachine();
        var v = m.Start(0x91000421u, 0xb9400002u, 0x8b020063u, 0xf10004e7u, 0x54ffff81u, 0xf9000123u);
        SetX(v, 0, MmioBase);
        SetX(v, 7, 50);
        SetX(v, 9, MarkerBase);
        for (ulong i = 1; i <= 50; i++)
        {
            Assert.Equal(RunResult.Ok, m.Run(v));
            Assert.Equal(MmioBase, v.RunState.Mmio.PhysAddr);
            Assert.Equal(CodeBase + 4, Pc(v));
            Assert.Equal(i, X(v, 1));
            v.RunState.Mmio.SetValue(i);
        }

        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(50UL * 51 / 2, v.RunState.Mmio.Value);
        Assert.Equal(50 * 5, v.Cpu.Retired);
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 0);
    }

    [Fact]
    public void FaultInsideATranslatedBlock_IsTakenAtTheFaultingInstruction()
    {
        // 1: add x1,x1,#1; subs x7,x7,#1; b.ne 1b; ldr x2,[x0] (unaligned, MMU off: alignment fault); add x1,x1,#1; b 1b
        using var m = new TestMachine();
        var v = m.Start(0x91000421u, 0xf10004e7u, 0x54ffffc1u, 0xf9400002u, 0x91000421u, 0x17fffffbu);
        SetX(v, 0, RamBase + 0x10001);
        SetX(v, 7, 1000);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason); // the vector's PSCI SYSTEM_OFF
        Assert.Equal(CodeBase + 12, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));   // ELR_EL1: the load
        Assert.Equal(0x21UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) & 0x3F); // ESR_EL1: alignment fault
        Assert.Equal(1000UL, X(v, 1));
        Assert.Equal(3000L, v.Cpu.Retired - 3); // the loop, then the vector's movz, add, and its hvc traps
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 0);
    }

    [Fact]
    public void CodeWrittenAfterTranslation_RunsAsWritten()
    {
        // 1: add x1,x1,#1; subs x7,x7,#1; b.ne 1b; str x1,[x9]; mov x7,#100; mov x1,#0; br x10 (= 1b)
        // (an indirect branch, so the loop is entered again through the block translated first)
        using var m = new TestMachine();
        var v = m.Start(0x91000421u, 0xf10004e7u, 0x54ffffc1u, 0xf9000121u, 0xd2800c87u, 0xd2800001u, 0xd61f0140u);
        SetX(v, 7, 100);
        SetX(v, 9, MarkerBase);
        SetX(v, 10, CodeBase);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(100UL, v.RunState.Mmio.Value);
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 0);

        m.Load(CodeBase, 0x91000821u); // add x1,x1,#2, while the guest waits on its store
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(200UL, v.RunState.Mmio.Value);
        Assert.True(v.Cpu.Counters.BlocksInvalidated >= 1);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CodeTheGuestRewrites_RunsAsWritten(bool maintenance)
    {
        // 1: add x1,x1,#1; subs x7,x7,#1; b.ne 1b; str x1,[x9]
        //    str w10,[x11] (the loop's add becomes add x1,x1,#2); dc cvau,x11; dsb ish; ic ivau,x11; dsb ish; isb
        //    (or, without the maintenance the architecture asks for, nops: SoftKvm sees the store at once)
        //    mov x7,#100; mov x1,#0; br x12 (= 1b)
        const uint Nop = 0xd503201fu;
        using var m = new TestMachine();
        var v = m.Start(
            0x91000421u, 0xf10004e7u, 0x54ffffc1u, 0xf9000121u, 0xb900016au,
            maintenance ? 0xd50b7b2bu : Nop, maintenance ? 0xd5033b9fu : Nop, maintenance ? 0xd50b752bu : Nop,
            maintenance ? 0xd5033b9fu : Nop, maintenance ? 0xd5033fdfu : Nop,
            0xd2800c87u, 0xd2800001u, 0xd61f0180u);
        SetX(v, 7, 100);
        SetX(v, 9, MarkerBase);
        SetX(v, 10, 0x91000821u);
        SetX(v, 11, CodeBase);
        SetX(v, 12, CodeBase);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(100UL, v.RunState.Mmio.Value);
        long translated = v.Cpu.Counters.TranslatedInstructions;
        Assert.True(translated > 0);

        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(200UL, v.RunState.Mmio.Value); // the block saw its words change
        Assert.True(v.Cpu.Counters.BlocksInvalidated >= 1);
        Assert.True(v.Cpu.Counters.TranslatedInstructions - translated > 150, "the rewritten loop ran translated too");
    }

    /// <summary>A loop of 39 adds and a branch back: longer than a block, so it runs as several chained ones.</summary>
    private static uint[] LongLoop(uint branch)
    {
        var code = new uint[41];
        Array.Fill(code, 0x91000421u, 0, 38); // add x1,x1,#1
        code[38] = 0xf10004e7u;                // subs x7,x7,#1
        code[39] = branch;                     // b.ne 1b, or b 1b
        code[40] = 0xf9000121u;                // str x1,[x9]
        return code;
    }

    [Fact]
    public void ALoopLongerThanABlock_RunsAsLinkedBlocks_InTheInterpretersState()
    {
        (ulong X1, ulong X7, ulong Pc, long Retired, long Chained) Run(bool translate)
        {
            using var m = new TestMachine();
            var v = m.Start(LongLoop(0x54fffb21u)); // b.ne back 39 instructions
            v.Cpu.TranslationEnabled = translate;
            SetX(v, 7, 1000);
            SetX(v, 9, MarkerBase);
            Assert.Equal(RunResult.Ok, m.Run(v));
            Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
            return (X(v, 1), X(v, 7), Pc(v), v.Cpu.Retired, v.Cpu.Counters.BlocksChained);
        }

        var interpreted = Run(translate: false);
        var chained = Run(translate: true);
        Assert.Equal(38_000UL, chained.X1);
        Assert.Equal((interpreted.X1, interpreted.X7, interpreted.Pc, interpreted.Retired), (chained.X1, chained.X7, chained.Pc, chained.Retired));
        Assert.True(chained.Chained >= 1, $"{chained.Chained} exits linked");
    }

    [Fact]
    public void CodeRewrittenInAChainedBlock_RunsAsWritten()
    {
        // The long loop, its store of x1, then: mov x7,#1000; mov x1,#0; br x12 (= the loop again).
        using var m = new TestMachine();
        var v = m.Start([.. LongLoop(0x54fffb21u), 0xd2807d07u, 0xd2800001u, 0xd61f0180u]);
        SetX(v, 7, 1000);
        SetX(v, 9, MarkerBase);
        SetX(v, 12, CodeBase);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(38_000UL, v.RunState.Mmio.Value);
        Assert.True(v.Cpu.Counters.BlocksChained >= 1);

        // The 21st add, in a block reached only through a link, now adds 2.
        m.Load(CodeBase + (4 * 20), 0x91000821u);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(39_000UL, v.RunState.Mmio.Value);
        Assert.True(v.Cpu.Counters.BlocksInvalidated >= 1);
    }

    [Fact]
    public void AKickStopsAnEndlessLoopOfChainedBlocks_AtAnExactInstruction()
    {
        using var m = new TestMachine();
        var v = m.Start(LongLoop(0x17ffffd9u)); // b back 39 instructions: endless
        Assert.Equal(RunResult.Interrupted, m.Run(v, timeoutMs: 3000));
        string state = $"PC +{Pc(v) - CodeBase:x}, x1 {X(v, 1)}, {v.Cpu.Retired} retired, {v.Cpu.Counters.TranslatedInstructions} in native code";
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 100_000, state);

        // Every iteration retires 38 adds, the subs and the branch: PC and x1 agree with the retired count.
        long k = (long)(Pc(v) - CodeBase) / 4, iterations = (v.Cpu.Retired - k) / 40;
        Assert.True((v.Cpu.Retired - k) % 40 == 0, state);
        Assert.True((ulong)((iterations * 38) + Math.Min(k, 38)) == X(v, 1), state);
    }

    [Fact]
    public void KickStopsATranslatedEndlessLoop()
    {
        // add x1,x1,#2; b .
        using var m = new TestMachine();
        var v = m.Start(0x91000821u, 0x14000000u);
        // The kick comes once the loop runs translated (a kick on a timer could come, on a loaded host,
        // before the vCPU thread had run anything); the 60 s kick of TestMachine.Run is only a safety net.
        var kicker = new Thread(() =>
        {
            var wait = System.Diagnostics.Stopwatch.StartNew();
            while (v.Cpu.Counters.TranslatedInstructions <= 1000 && wait.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(1);
            }

            v.Kick();
        });
        kicker.Start();
        Assert.Equal(RunResult.Interrupted, m.Run(v, timeoutMs: 60_000));
        kicker.Join();
        Assert.Equal(ExitReason.Intr, v.RunState.ExitReason);
        Assert.Equal(CodeBase + 4, Pc(v));
        Assert.True(v.Cpu.Counters.TranslatedInstructions > 1000, $"{v.Cpu.Counters.TranslatedInstructions} translated");
    }

    [Fact]
    public void TranslatedLoopsAndMmioRoundTrips_AllocateNothing()
    {
        // 1: ldr x2,[x5]; str x2,[x5,#8]; add x6,x6,#1; ldr w1,[x0] (MMIO); subs x7,x7,#1; b.ne 1b; str x7,[x3]
        using var m = new TestMachine();
        var v = m.Start(0xf94000a2u, 0xf90004a2u, 0x910004c6u, 0xb9400001u, 0xf10004e7u, 0x54ffff61u, 0xf9000067u);
        SetX(v, 0, MmioBase);
        SetX(v, 3, MarkerBase);
        SetX(v, 5, RamBase + 0x8000);
        SetX(v, 7, 2000);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            v.RunState.Mmio.SetValue(1);
        }

        long translated = v.Cpu.Counters.TranslatedInstructions;
        Assert.Equal(0, AllocationTests.AllocatedOverMmioRoundTrips(v, out int windows));
        Assert.True(v.Cpu.Counters.TranslatedInstructions - translated >= 4000);
        Assert.Equal(100UL + (1000UL * (ulong)windows), X(v, 6)); // 1100 when the first window counted
    }

    [Fact]
    public void EveryBlock_IsTranslatedAtItsFirstExecution()
    {
        // add x1,x1,#1; add x2,x2,#2; str x1,[x9]: run once, and natively.
        using var m = new TestMachine();
        var v = m.Start(0x91000421u, 0x91000842u, 0xf9000121u);
        SetX(v, 9, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(1UL, v.RunState.Mmio.Value);
        // (The code cache is the process's: a block of an earlier test at the same host address, with the
        // same words, may be found instead of translated.)
        Assert.True(v.Cpu.Counters.BlocksTranslated <= 1);
        Assert.Equal(2, v.Cpu.Counters.TranslatedInstructions); // the store traps: not retired yet
    }

    [Fact]
    public void TheConstantConditionTable_IsTheArmArmsConditionHolds() =>
        Assert.True(SoftKvm.Arm64.Cpu.Arm64Cpu.ConditionTableIsExact());
}

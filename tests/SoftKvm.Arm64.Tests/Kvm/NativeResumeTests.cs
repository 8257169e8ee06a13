using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// Native code that resumes in its block after an MMIO access the VMM completed (Arm64Cpu.Resume.cs): the register
/// written once, the instructions after the access run once, the retired count and the exit statistics exact, and a
/// block whose words the VMM changed during the exit is not resumed.
/// </summary>
public sealed class NativeResumeTests
{
    private static bool Native => Arm64Cpu.NativeSupported && Arm64Cpu.DefaultTranslation;

    private static long Counter(Arm64Vcpu v, string name) => v.CpuModelCounters().Single(c => c.Key == name).Value;

    [Fact]
    public void VmmReadsInALoop_EachCompletedOnce_RetiredCountExact()
    {
        // P: ldr w1,[x0]; add x2,x2,x1; subs x7,x7,#1; b.ne P; str x2,[x3] (the marker)
        const int rounds = 200;
        using var m = new TestMachine();
        var v = m.Start(0xb9400001u, 0x8b010042u, 0xf10004e7u, 0x54ffffa1u, 0xf9000062u);
        SetX(v, 0, MmioBase);
        SetX(v, 2, 0);
        SetX(v, 3, MarkerBase);
        SetX(v, 7, rounds);
        ref var run = ref v.RunState;
        ulong sum = 0;
        for (int i = 0; ; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            Assert.Equal(ExitReason.Mmio, run.ExitReason);
            if (run.Mmio.IsWrite)
            {
                Assert.Equal(rounds, i);
                Assert.Equal(MarkerBase, run.Mmio.PhysAddr);
                break;
            }

            Assert.Equal(MmioBase, run.Mmio.PhysAddr);
            run.Mmio.SetValue((ulong)(i + 1));
            sum += (ulong)(i + 1);
        }

        Assert.Equal(sum, X(v, 2));
        Assert.Equal(sum, run.Mmio.Value);
        Assert.Equal(CodeBase + 16, Pc(v));
        Assert.Equal(4L * rounds, v.InstructionsRetired); // the marker store has not retired
        Assert.Equal((ulong)rounds + 1, Stat(v, "mmio_exit_user")); // the reads and the marker store
        Assert.Equal((ulong)rounds + 1, Stat(v, "exits"));
        if (Native)
        {
            Assert.True(Counter(v, "native_resumes") >= rounds - 2, $"resumed {Counter(v, "native_resumes")} of {rounds} reads");
        }
    }

    [Fact]
    public void CodeAfterTheAccessChangedDuringTheExit_TheNewCodeRuns()
    {
        // P: ldr w1,[x0]; add x2,x2,#1; str x2,[x3]; the VMM makes P+4 add x2,x2,#5 while it handles the read.
        using var m = new TestMachine();
        var v = m.Start(0xb9400001u, 0x91000442u, 0xf9000062u);
        SetX(v, 0, MmioBase);
        SetX(v, 2, 100);
        SetX(v, 3, MarkerBase);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.False(v.RunState.Mmio.IsWrite);
        m.Load(CodeBase + 4, 0x91001442u);
        v.RunState.Mmio.SetValue(7);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.True(v.RunState.Mmio.IsWrite);
        Assert.Equal(7UL, X(v, 1));
        Assert.Equal(105UL, X(v, 2));
        if (Native)
        {
            Assert.True(Counter(v, "blocks_invalidated") >= 1, "the block of the access was not found stale");
        }
    }

    [Fact]
    public void StoreToTheVmm_ResumesAfterIt()
    {
        // P: str w1,[x0]; add x1,x1,#1; str w1,[x0]; str x1,[x3]
        using var m = new TestMachine();
        var v = m.Start(0xb9000001u, 0x91000421u, 0xb9000001u, 0xf9000061u);
        SetX(v, 0, MmioBase);
        SetX(v, 1, 41);
        SetX(v, 3, MarkerBase);
        ref var run = ref v.RunState;
        ulong[] expected = [41, 42, 42];
        ulong[] addresses = [MmioBase, MmioBase, MarkerBase];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            Assert.True(run.Mmio.IsWrite);
            Assert.Equal(addresses[i], run.Mmio.PhysAddr);
            Assert.Equal(expected[i], run.Mmio.Value);
        }

        Assert.Equal(3L, v.InstructionsRetired);
        Assert.Equal(CodeBase + 12, Pc(v));
    }
}

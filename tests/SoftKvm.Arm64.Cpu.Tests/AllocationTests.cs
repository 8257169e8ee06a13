using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>The execution loop and the MMIO exit round trip allocate nothing.</summary>
public sealed class AllocationTests
{
    [Fact]
    public void HotLoopAndMmioRoundTrips_AllocateNothing()
    {
        // 1: ldr x2,[x5]; str x2,[x5,#8]; add x6,x6,#1; ldr w1,[x0] (MMIO); subs x7,x7,#1; b.ne 1b; str x7,[x3]
        using var m = new TestMachine();
        var v = m.Start(0xf94000a2u, 0xf90004a2u, 0x910004c6u, 0xb9400001u, 0xf10004e7u, 0x54ffff61u, 0xf9000067u);
        TestMachine.SetX(v, 0, TestMachine.MmioBase);
        TestMachine.SetX(v, 3, TestMachine.MarkerBase);
        TestMachine.SetX(v, 5, TestMachine.RamBase + 0x8000);
        TestMachine.SetX(v, 7, 2000);
        v.Cpu.TranslationEnabled = false; // the interpreter (translated loops: TranslationTests)

        // Warm up (JIT, first-touch TLB fills), then measure the same work.
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            v.RunState.Mmio.SetValue(1);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            v.Run();
            v.RunState.Mmio.SetValue(1);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(1100UL, TestMachine.X(v, 6));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HalfPrecisionLoop_AllocatesNothing(bool translated)
    {
        // fmov v1.8h,#1.5; fmov v2.8h,#0.5; 1: fmla v0.8h,v1.8h,v2.8h; fdiv v3.8h,v0.8h,v1.8h; fsqrt h4,h3;
        // fmaxnmv h5,v3.8h; fcvtzs w6,h4; ldr w1,[x0] (MMIO); subs x7,x7,#1; b.ne 1b; str x7,[x3]
        using var m = new TestMachine(model: CpuModel.Max);
        var v = m.Start(0x4f03ff01u, 0x4f03fc02u, 0x4e420c20u, 0x6e413c03u, 0x1ee1c064u, 0x4e30c865u, 0x1ef80086u,
            0xb9400001u, 0xf10004e7u, 0x54ffff21u, 0xf9000067u);
        v.SetSystemRegister(SysRegKey.Of(3, 0, 1, 0, 2), 3UL << 20); // CPACR_EL1.FPEN
        TestMachine.SetX(v, 0, TestMachine.MmioBase);
        TestMachine.SetX(v, 3, TestMachine.MarkerBase);
        TestMachine.SetX(v, 7, 2000);
        v.Cpu.TranslationEnabled = translated;
        WarmUp(v);
        Assert.Equal(0, AllocatedOverMmioRoundTrips(v, out _));
        Assert.Equal(0L, v.Cpu.UndefinedCount);
    }

    [Fact]
    public void TranslatedHvcAndVmmMmioRoundTrips_AllocateNothing()
    {
        // 1: movz x0,#0x8400,lsl #16 (PSCI_VERSION); hvc #0 (answered in place); ldr w1,[x9] (MMIO for the VMM);
        // subs x7,x7,#1; b.ne 1b; str x7,[x3]
        using var m = new TestMachine();
        var v = m.Start(0xd2b08000u, 0xd4000002u, 0xb9400121u, 0xf10004e7u, 0x54ffff81u, 0xf9000067u);
        TestMachine.SetX(v, 9, TestMachine.MmioBase);
        TestMachine.SetX(v, 3, TestMachine.MarkerBase);
        TestMachine.SetX(v, 7, 5000);
        v.Cpu.TranslationEnabled = true;
        WarmUp(v);
        Assert.Equal(0, AllocatedOverMmioRoundTrips(v, out int windows));
        Assert.Equal((ulong)(100 + (1000 * windows)), v.Stats["hvc_exit_stat"]);
    }

    /// <summary>100 MMIO round trips of <paramref name="v"/> (JIT, translation, first-touch TLB fills) before a measurement.</summary>
    private static void WarmUp(SoftKvm.Arm64.Kvm.Arm64Vcpu v)
    {
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(RunResult.Ok, v.Run());
            v.RunState.Mmio.SetValue(1);
        }
    }

    /// <summary>
    /// The bytes the calling thread allocates over 1,000 MMIO round trips of <paramref name="v"/>, in a window in which
    /// no block was translated: a translation allocates (its IR), and one can come in the middle because the native
    /// code cache is the process's, so another test filling it makes the loop translate again. Up to five windows;
    /// <paramref name="windows"/> says how many ran.
    /// </summary>
    internal static long AllocatedOverMmioRoundTrips(SoftKvm.Arm64.Kvm.Arm64Vcpu v, out int windows)
    {
        long allocated = -1;
        windows = 0;
        while (windows < 5 && allocated != 0)
        {
            windows++;
            long translations = v.Cpu.Counters.BlocksTranslated;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                v.Run();
                v.RunState.Mmio.SetValue(1);
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (v.Cpu.Counters.BlocksTranslated == translations)
            {
                break;
            }
        }

        return allocated;
    }
}

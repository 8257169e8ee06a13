using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>PSCI 1.0 over HVC/SMC (issue 4, build step 3).</summary>
public sealed class PsciTests
{
    private const ulong SecondaryEntry = 0x4002_0000;
    private const ulong ResultBase = 0x4010_0000;
    private const ulong CpuOnResults = 0x4011_0000;

    // movz x1,#0x4010,lsl 16; str x0,[x1,x0,lsl #3]; PSCI CPU_OFF; b .
    private static readonly uint[] Secondary = [0xd2a80201u, 0xf8207820u, 0x52b08000u, 0x11000800u, 0xd4000002u, 0x14000000u];

    private static ulong CallAndGetX0(uint[] program, Action<Arm64Vcpu>? setup = null, Arm64VcpuInit? init = null)
    {
        using var m = new TestMachine();
        m.Load(CodeBase, program);
        var v = m.Init(m.Vcpu, CodeBase, init);
        SetX(v, 23, MarkerBase);
        setup?.Invoke(v);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        return v.RunState.Mmio.Value;
    }

    [Fact]
    public void Version_Is10() =>
        Assert.Equal(0x1_0000UL, CallAndGetX0([0x52b08000u, 0xd4000002u, 0xf90002e0u]));

    [Fact]
    public void UnknownFunction_ReturnsNotSupported() =>
        Assert.Equal(ulong.MaxValue, CallAndGetX0([0x52b08000u, 0x11007c00u, 0xd4000002u, 0xf90002e0u]));

    [Fact]
    public void HvcWithNonZeroImmediate_ReturnsNotSupported() =>
        Assert.Equal(ulong.MaxValue, CallAndGetX0([0xd4000022u, 0xf90002e0u], v => SetX(v, 0, 0x8400_0000)));

    [Fact]
    public void Features_CpuOnIsImplemented() =>
        Assert.Equal(0UL, CallAndGetX0([0x52b08000u, 0x11002800u, 0x52b88001u, 0x11000c21u, 0xd4000002u, 0xf90002e0u]));

    [Fact]
    public void MigrateInfoType_IsNotRequired() =>
        Assert.Equal(2UL, CallAndGetX0([0x52b08000u, 0x11001800u, 0xd4000002u, 0xf90002e0u]));

    [Fact]
    public void SmcConduit_HandlesSmc_AndHvcIsUndefined()
    {
        // smc #0; str x0,[x23]
        Assert.Equal(0x1_0000UL, CallAndGetX0([0xd4000003u, 0xf90002e0u], v => SetX(v, 0, 0x8400_0000), new Arm64VcpuInit { PsciConduit = PsciConduit.Smc }));

        using var m = new TestMachine();
        m.Load(CodeBase, 0xd4000002u);
        m.Load(VectorBase + 0x200, 0xd5385205u, 0xf90002e5u); // mrs x5,esr_el1; str x5,[x23]
        var v = m.Init(m.Vcpu, CodeBase, new Arm64VcpuInit { PsciConduit = PsciConduit.Smc });
        SetX(v, 0, 0x8400_0000);
        SetX(v, 23, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(0UL, v.RunState.Mmio.Value >> 26);
        Assert.Equal(1UL, v.Stats["undef_insn"]);
    }

    [Fact]
    public void SystemOffAndReset_AreSystemEvents()
    {
        using var m = new TestMachine();
        var v = m.Start(0x52b08000u, 0x11002400u, 0xd4000002u);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(SystemEventType.Reset, v.RunState.SystemEvent.Type);
        Assert.Equal(1UL, v.Stats["hvc_exit_stat"]);

        using var m2 = new TestMachine();
        var v2 = m2.Start(0x52b08000u, 0x11002000u, 0xd4000002u);
        Assert.Equal(RunResult.Ok, m2.Run());
        Assert.Equal(SystemEventType.Shutdown, v2.RunState.SystemEvent.Type);
        Assert.True(v2.IsPoweredOff);
    }

    private static List<Thread> RunSecondaries(TestMachine m, IEnumerable<int> ids, List<Exception> errors)
    {
        var threads = new List<Thread>();
        foreach (int id in ids)
        {
            var v = m[id];
            var t = new Thread(() =>
            {
                try
                {
                    while (true)
                    {
                        var r = v.Run();
                        if (r == RunResult.Interrupted)
                        {
                            return;
                        }

                        if (v.RunState.ExitReason != ExitReason.Mmio)
                        {
                            throw new InvalidOperationException($"vCPU {v.Id}: unexpected exit {v.RunState.ExitReason}");
                        }
                    }
                }
                catch (Exception e)
                {
                    lock (errors)
                    {
                        errors.Add(e);
                    }
                }
            });
            t.Start();
            threads.Add(t);
        }

        return threads;
    }

    [Fact]
    public void CpuOn_StartsEightSecondaries_WithEntryAndContextId()
    {
        using var m = new TestMachine(vcpus: 9);
        m.Load(SecondaryEntry, Secondary);
        m.Load(CodeBase, 0xd2800036u, 0x52b88000u, 0x11000c00u, 0xaa1603e1u, 0xaa1503e2u, 0xaa1603e3u, 0xd4000002u,
            0xf8367a80u, 0x910006d6u, 0xf10026dfu, 0x54fffee1u, 0xf90002f6u);
        var primary = m.Init(m.Vcpu, CodeBase);
        SetX(primary, 20, CpuOnResults);
        SetX(primary, 21, SecondaryEntry);
        SetX(primary, 23, MarkerBase);
        for (int i = 1; i <= 8; i++)
        {
            m[i].Init(new Arm64VcpuInit { PowerOff = true });
            Assert.True(m[i].IsPoweredOff);
        }

        var errors = new List<Exception>();
        var threads = RunSecondaries(m, Enumerable.Range(1, 8), errors);
        Assert.Equal(RunResult.Ok, m.Run(primary));
        Assert.Equal(MarkerBase, primary.RunState.Mmio.PhysAddr);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && Enumerable.Range(1, 8).Any(i => m.Vm.Memory.Read<ulong>(new GuestPhysAddr(ResultBase + (ulong)(8 * i))) != (ulong)i))
        {
            Thread.Sleep(5);
        }

        for (int i = 1; i <= 8; i++)
        {
            Assert.Equal(0UL, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(CpuOnResults + (ulong)(8 * i))));
            Assert.Equal((ulong)i, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(ResultBase + (ulong)(8 * i))));
        }

        // Every secondary called CPU_OFF after writing its result.
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && Enumerable.Range(1, 8).Any(i => !m[i].IsPoweredOff))
        {
            Thread.Sleep(5);
        }

        Assert.All(Enumerable.Range(1, 8), i => Assert.True(m[i].IsPoweredOff));
        m.Vm.KickAll();
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);
    }

    [Fact]
    public void CpuOnRace_EightCallers_ExactlyOneSuccess()
    {
        using var m = new TestMachine(vcpus: 10);

        // The target stays on: movz x1,#0x4010,lsl 16; str x0,[x1,x0,lsl #3]; wfi; b .-4
        m.Load(SecondaryEntry, 0xd2a80201u, 0xf8207820u, 0xd503207fu, 0x17ffffffu);
        m.Load(CodeBase, 0x52b88000u, 0x11000c00u, 0xd2800121u, 0xaa1503e2u, 0xd2800123u, 0xd4000002u, 0xf9000280u, 0xf90002e0u);
        m.Vcpu.Init(new Arm64VcpuInit { PowerOff = true });
        m[9].Init(new Arm64VcpuInit { PowerOff = true });
        var racers = Enumerable.Range(1, 8).Select(i => m[i]).ToArray();
        foreach (var r in racers)
        {
            m.Init(r, CodeBase);
            SetX(r, 20, CpuOnResults + (ulong)(8 * r.Id));
            SetX(r, 21, SecondaryEntry);
            SetX(r, 23, MarkerBase);
        }

        var errors = new List<Exception>();
        var targetThread = RunSecondaries(m, [9], errors);
        using var start = new Barrier(8);
        var results = new RunResult[8];
        var threads = racers.Select((r, k) => new Thread(() =>
        {
            start.SignalAndWait();
            results[k] = r.Run();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(results, r => Assert.Equal(RunResult.Ok, r));
        var codes = racers.Select(r => (long)m.Vm.Memory.Read<ulong>(new GuestPhysAddr(CpuOnResults + (ulong)(8 * r.Id)))).ToList();
        Assert.Equal(1, codes.Count(c => c == 0));
        Assert.Equal(7, codes.Count(c => c == -4));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && m.Vm.Memory.Read<ulong>(new GuestPhysAddr(ResultBase + (8 * 9))) != 9)
        {
            Thread.Sleep(5);
        }

        Assert.Equal(9UL, m.Vm.Memory.Read<ulong>(new GuestPhysAddr(ResultBase + (8 * 9))));
        m.Vm.KickAll();
        targetThread.ForEach(t => t.Join());
        Assert.Empty(errors);
    }

    [Fact]
    public void CpuOn_UnknownTarget_IsInvalidParameters()
    {
        ulong x0 = CallAndGetX0([0x52b88000u, 0x11000c00u, 0xd2800121u, 0xaa1503e2u, 0xd2800123u, 0xd4000002u, 0xf90002e0u]);
        Assert.Equal(unchecked((ulong)-2L), x0);
    }

    [Fact]
    public void AffinityInfo_ReportsOffForAPoweredOffVcpu()
    {
        using var m = new TestMachine(vcpus: 2);
        m[1].Init(new Arm64VcpuInit { PowerOff = true });
        m.Load(CodeBase, 0x52b88000u, 0x11001000u, 0xd2800021u, 0xd2800002u, 0xd4000002u, 0xf90002e0u);
        var v = m.Init(m.Vcpu, CodeBase);
        SetX(v, 23, MarkerBase);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(1UL, v.RunState.Mmio.Value);
    }
}

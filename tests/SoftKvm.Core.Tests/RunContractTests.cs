using SoftKvm.Core.Errors;
using SoftKvm.Core.Memory;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;
using SoftKvm.Core.Tests.Support;

namespace SoftKvm.Core.Tests;

public sealed class RunContractTests : IDisposable
{
    private readonly ScriptedVm _vm = new();

    public void Dispose() => _vm.Dispose();

    [Fact]
    public void MmioReadCompletesExactlyOnceAcrossRepeatedImmediateExits()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Load(0x9000000, 4, 1), new Increment(2)];

        Assert.Equal(RunResult.Ok, vcpu.Run());
        ref var run = ref vcpu.RunState;
        Assert.Equal(ExitReason.Mmio, run.ExitReason);
        Assert.Equal(0x9000000UL, run.Mmio.PhysAddr);
        Assert.Equal(4U, run.Mmio.Length);
        Assert.False(run.Mmio.IsWrite);
        Assert.Equal(0, vcpu.Pc); // still at the load

        run.Mmio.SetValue(0x11223344);
        run.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, vcpu.Run());
        Assert.Equal(ExitReason.Mmio, run.ExitReason); // unchanged by an immediate exit
        Assert.Equal(0x11223344UL, vcpu.Registers[1]);
        Assert.Equal(1, vcpu.Pc);

        run.Mmio.SetValue(0xdeadbeef); // a second completion would overwrite the register
        Assert.Equal(RunResult.Interrupted, vcpu.Run());
        Assert.Equal(RunResult.Interrupted, vcpu.Run());
        Assert.Equal(0x11223344UL, vcpu.Registers[1]);
        Assert.Equal(1, vcpu.Pc);
        Assert.Equal(1UL, vcpu.Stats[ScriptedVcpu.Completions]);

        run.ImmediateExit = false;
        Assert.Equal(RunResult.Ok, vcpu.Run());
        Assert.Equal(ExitReason.SystemEvent, run.ExitReason);
        Assert.Equal(1UL, vcpu.Registers[2]); // the next instruction ran exactly once
        Assert.Equal(1UL, vcpu.Stats[ScriptedVcpu.MmioExitUser]);
    }

    [Fact]
    public void KickBeforeRunCompletesPendingIoThenReturnsIntrWithoutRunningGuestCode()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Store(0x9000000, 1, 0x41), new Increment(0)];
        Assert.Equal(RunResult.Ok, vcpu.Run());
        Assert.Equal(0x41UL, vcpu.RunState.Mmio.Value);
        Assert.True(vcpu.HasPendingCompletion);

        vcpu.Kick();
        Assert.Equal(RunResult.Interrupted, vcpu.Run());
        Assert.Equal(ExitReason.Intr, vcpu.RunState.ExitReason);
        Assert.False(vcpu.HasPendingCompletion);
        Assert.Equal(1, vcpu.Pc);
        Assert.Equal(0UL, vcpu.Registers[0]);
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.SignalExits]);

        Assert.Equal(RunResult.Ok, vcpu.Run());
        Assert.Equal(1UL, vcpu.Registers[0]);
        Assert.Equal(1UL, vcpu.Stats[ScriptedVcpu.Completions]);
    }

    [Fact]
    public void InKernelDeviceCompletesWithoutAnExit()
    {
        var device = new RecordingDevice();
        device.Memory[8] = 0x80;
        _vm.MmioBus.Register(0x8000000, 0x1000, device);
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Load(0x8000008, 1, 3)];

        Assert.Equal(RunResult.Ok, vcpu.Run());
        Assert.Equal(ExitReason.SystemEvent, vcpu.RunState.ExitReason);
        Assert.Equal(0x80UL, vcpu.Registers[3]);
        Assert.Equal(1UL, vcpu.Stats[ScriptedVcpu.MmioExitKernel]);
        Assert.Equal(0UL, vcpu.Stats[ScriptedVcpu.MmioExitUser]);
    }

    [Fact]
    public void KickFromAnotherThreadWakesAHaltedVcpu()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new HaltStep()];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Stats[VcpuStat.Blocking] == 1);

        vcpu.Kick();

        Assert.Equal(RunResult.Interrupted, runner.Join());
        Assert.Equal(ExitReason.Intr, vcpu.RunState.ExitReason);
        Assert.Equal(0, vcpu.Pc); // still halted: the kick is no interrupt
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.HaltWakeup]);
        Assert.Equal(0UL, vcpu.Stats[VcpuStat.Blocking]);
    }

    [Fact]
    public void InterruptWakesAHaltedVcpuWhichContinues()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new HaltStep(), new Increment(4)];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Stats[VcpuStat.Blocking] == 1);

        vcpu.InterruptPending = true;
        vcpu.Wake();

        Assert.Equal(RunResult.Ok, runner.Join());
        Assert.Equal(1UL, vcpu.Registers[4]);
        Assert.True(vcpu.Stats[VcpuStat.HaltWaitNs] > 0);
    }

    [Fact]
    public void AHaltThatPollsSeesItsEventWithoutSleeping()
    {
        _vm.MaxHaltPollNs = 10_000_000_000;
        _vm.PollingChecksHostLoad = false; // poll however busy the test machine is
        var vcpu = _vm.CreateVcpu(0);
        vcpu.HaltPollNs = 10_000_000_000; // a window no test machine outlasts
        vcpu.Program = [new HaltStep(), new Increment(4)];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Halting);
        Thread.Sleep(20);

        vcpu.InterruptPending = true; // no Wake(): only a polling vCPU can see it

        Assert.Equal(RunResult.Ok, runner.Join());
        Assert.Equal(1UL, vcpu.Registers[4]);
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.HaltAttemptedPoll]);
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.HaltSuccessfulPoll]);
        Assert.True(vcpu.Stats[VcpuStat.HaltPollSuccessNs] > 0); // not 20 ms or more: a loaded host may start the poll late
        Assert.Equal(0UL, vcpu.Stats[VcpuStat.HaltPollFailNs]);
        Assert.Equal(0UL, vcpu.Stats[VcpuStat.HaltWaitNs]); // it never slept
        Assert.Equal(0UL, vcpu.Stats[VcpuStat.HaltWakeup]);
    }

    [Fact]
    public void AHaltThatOutlastsItsPollingWindowSleepsAndTheWindowShrinks()
    {
        _vm.MaxHaltPollNs = 2_000_000;
        _vm.PollingChecksHostLoad = false;
        var vcpu = _vm.CreateVcpu(0);
        vcpu.HaltPollNs = 1_000_000;
        vcpu.Program = [new HaltStep(), new Increment(4)];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Stats[VcpuStat.Blocking] == 1);
        Thread.Sleep(20); // a halt longer than the maximum

        vcpu.InterruptPending = true;
        vcpu.Wake();

        Assert.Equal(RunResult.Ok, runner.Join());
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.HaltAttemptedPoll]);
        Assert.Equal(0UL, vcpu.Stats[VcpuStat.HaltSuccessfulPoll]);
        Assert.True(vcpu.Stats[VcpuStat.HaltPollFailNs] >= 1_000_000, $"{vcpu.Stats[VcpuStat.HaltPollFailNs]} ns");
        Assert.True(vcpu.Stats[VcpuStat.HaltWaitNs] > 0);
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.HaltWakeup]);
        Assert.Equal(500_000, vcpu.HaltPollNs);
    }

    [Fact]
    public void AHaltDoesNotPollWhileMoreVcpusAreRunnableThanTheHostHasProcessors()
    {
        _vm.MaxHaltPollNs = 10_000_000_000;
        _vm.PollingChecksHostLoad = false; // the VM's own count alone forbids it
        var vcpu = _vm.CreateVcpu(0);
        for (int i = 1; i <= Environment.ProcessorCount; i++)
        {
            _vm.CreateVcpu(i); // created, not halted: counted as runnable
        }

        vcpu.HaltPollNs = 10_000_000_000;
        vcpu.Program = [new HaltStep()];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Stats[VcpuStat.Blocking] == 1); // it blocked at once

        vcpu.Kick();

        Assert.Equal(RunResult.Interrupted, runner.Join());
        Assert.Equal(0UL, vcpu.Stats[VcpuStat.HaltAttemptedPoll]);
    }

    [Fact]
    public void KickFromAnotherThreadStopsARunningVcpu()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Spin()];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Spinning);

        vcpu.Kick();

        Assert.Equal(RunResult.Interrupted, runner.Join());
        Assert.Equal(ExitReason.Intr, vcpu.RunState.ExitReason);
        Assert.Equal(1UL, vcpu.Stats[VcpuStat.SignalExits]);
    }

    [Fact]
    public void KickAfterTheVmIsDisposedDoesNotThrow()
    {
        var vm = new ScriptedVm();
        var vcpu = vm.CreateVcpu(0);
        vm.Dispose();

        var e = Record.Exception(vcpu.Kick);

        Assert.Null(e);
    }

    [Fact]
    public void RunFromASecondThreadIsRefused()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Spin()];
        var runner = new BackgroundRun(vcpu);
        SpinUntil(() => vcpu.Spinning);

        var e = Assert.Throws<VcpuException>(() => vcpu.Run());
        Assert.Contains("already running", e.Message);
        vcpu.Kick();
        Assert.Equal(RunResult.Interrupted, runner.Join());
    }

    [Fact]
    public void RunPassesFromThreadToThreadBetweenRuns()
    {
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Exclusive()];
        Assert.Equal(RunResult.Ok, vcpu.Run());
        Assert.Equal(RunResult.Ok, new BackgroundRun(vcpu).Join()); // another thread takes the vCPU over
        Assert.Equal(RunResult.Ok, vcpu.Run());                     // and this one takes it back
        Assert.Equal(RunResult.Ok, vcpu.Run());
        Assert.False(vcpu.IsRunning);
        Assert.Equal(0, vcpu.Overlaps);
    }

    [Fact]
    public void TwoThreadsCallingRunAtOnceNeverAreInsideTogether()
    {
        // The owner enters with plain stores; a claimant uses a process-wide barrier (Vcpu.TryEnterOwned): whatever
        // the interleaving, one of two racing callers is refused and the run loop never has two threads inside.
        var vcpu = _vm.CreateVcpu(0);
        vcpu.Program = [new Exclusive()];
        int entered = 0, refused = 0;
        var start = new Barrier(2);
        void Hammer()
        {
            start.SignalAndWait();
            for (int i = 0; i < 5_000; i++)
            {
                try
                {
                    Assert.Equal(RunResult.Ok, vcpu.Run());
                    Interlocked.Increment(ref entered);
                }
                catch (VcpuException e) when (e.Message.Contains("already running"))
                {
                    Interlocked.Increment(ref refused);
                }
            }
        }

        var other = new Thread(Hammer) { IsBackground = true };
        other.Start();
        Hammer();
        Assert.True(other.Join(TimeSpan.FromSeconds(60)));

        Assert.Equal(0, Volatile.Read(ref vcpu.Overlaps));
        Assert.Equal(10_000, entered + refused);
        Assert.False(vcpu.IsRunning);
        Assert.Equal(RunResult.Ok, vcpu.Run()); // nothing left claimed
    }

    [Fact]
    public void VcpuIdsAreCheckedAndMemoryChangesReachEveryVcpu()
    {
        using var vm = new ScriptedVm(maxVcpus: 512);
        for (int i = 0; i < 512; i++)
        {
            vm.CreateVcpu(i);
        }

        Assert.Equal(512, vm.Vcpus.Count);
        Assert.Throws<VcpuException>(() => vm.CreateVcpu(512));
        Assert.Throws<VcpuException>(() => vm.CreateVcpu(-1));
        Assert.Throws<VcpuException>(() => vm.CreateVcpu(7));
        Assert.Same(vm.Vcpus[33], vm.GetVcpu(33));

        vm.SetMemoryRegion(0, 0x40000000, 0x10000, MemorySlotFlags.None);
        Assert.All(vm.Vcpus, v => Assert.True(((ScriptedVcpu)v).Requests.HasFlag(VcpuRequest.MemoryChanged)));
    }

    [Fact]
    public void StatisticsSumOverVcpusAndOnlyClearToZero()
    {
        var a = _vm.CreateVcpu(0);
        var b = _vm.CreateVcpu(1);
        a.Program = [new Load(0x1000, 1, 0)];
        b.Program = [new Load(0x1000, 1, 0)];
        a.Run();
        b.Run();
        b.Run();

        var stats = _vm.GetStatistics().ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal(3UL, stats["exits"]);
        Assert.Equal(2UL, stats["mmio_exit_user"]);
        Assert.Equal(0UL, stats["remote_tlb_flush"]);
        var again = _vm.GetStatistics().ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal(stats, again); // reading changes nothing

        Assert.Throws<StatsException>(() => a.Stats.Write("exits", 5));
        Assert.Throws<StatsException>(() => a.Stats.Write("no_such_stat", 0));
        a.Stats.Write("exits", 0);
        Assert.Equal(0UL, a.Stats["exits"]);
        Assert.Equal(2UL, b.Stats["exits"]);
    }

    [Fact]
    public void StatsDescriptorsLookLikeKvms()
    {
        var schema = ScriptedVcpu.Schema;
        Assert.Equal("exits", schema.Descriptors[VcpuStat.Exits].Name);
        Assert.Equal("signal_exits", schema.Descriptors[VcpuStat.SignalExits].Name);
        var wait = schema.Descriptors[VcpuStat.HaltWaitNs];
        Assert.Equal((StatUnit.Seconds, -9), (wait.Unit, wait.Exponent));
        Assert.Equal(StatKind.Instant, schema.Descriptors[VcpuStat.Blocking].Kind);
        Assert.Throws<SoftKvmException>(() => new StatsSchema(StatScope.Vcpu, VcpuStat.Descriptors, [new StatDescriptor("exits")]));
    }

    [Fact]
    public void PeakStatisticKeepsTheMaximum()
    {
        var block = new StatsBlock(new StatsSchema(StatScope.Vm, [new StatDescriptor("max_mmu_rmap_size", StatKind.Peak)]));
        block.UpdatePeak(0, 5);
        block.UpdatePeak(0, 3);
        Assert.Equal(5UL, block[0]);
    }

    private static void SpinUntil(Func<bool> condition)
    {
        Assert.True(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)), "condition not reached in 10 s");
    }
}

using BenchmarkDotNet.Attributes;
using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Benchmarks.Core;

/// <summary>
/// Kick() latency: from Kick() on the benchmark thread until the vCPU thread has left Run() with
/// KVM_EXIT_INTR and is back in guest execution (running) or back in halt (halted).
/// </summary>
public class KickLatencyBenchmarks
{
    private BenchVm _vm = null!;
    private BenchVcpu _vcpu = null!;
    private Thread _thread = null!;
    private volatile bool _stop;

    [Params(false, true)]
    public bool Halted { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _vm = new BenchVm();
        _vcpu = (BenchVcpu)_vm.CreateVcpu(0);
        _vcpu.Halting = Halted;
        _thread = new Thread(() =>
        {
            while (!_stop)
            {
                _vcpu.Run();
                Interlocked.Increment(ref _vcpu.Returns);
            }
        }) { IsBackground = true };
        _thread.Start();
        SpinWait.SpinUntil(() => Volatile.Read(ref _vcpu.Entries) > 0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _vcpu.Kick();
        _thread.Join();
        _vm.Dispose();
    }

    [Benchmark]
    public long KickRoundTrip()
    {
        long returns = Volatile.Read(ref _vcpu.Returns);
        long entries = Volatile.Read(ref _vcpu.Entries);
        _vcpu.Kick();
        var spin = new SpinWait();
        while (Volatile.Read(ref _vcpu.Returns) == returns || Volatile.Read(ref _vcpu.Entries) == entries)
        {
            spin.SpinOnce(-1);
        }

        return returns;
    }

    private sealed class BenchVm() : Vm(1, new StatsSchema(StatScope.Vm, VmStat.Descriptors))
    {
        protected override Vcpu CreateVcpuCore(int id) => new BenchVcpu(this, id);
    }

    private sealed class BenchVcpu(Vm vm, int id) : Vcpu(vm, id, new StatsSchema(StatScope.Vcpu, VcpuStat.Descriptors))
    {
        public long Returns;
        public long Entries;
        public bool Halting;

        protected override bool HasWakeupEvent() => false;

        protected override bool CompletePending(int kind, out RunResult result)
        {
            result = RunResult.Ok;
            return true;
        }

        protected override RunResult RunLoop()
        {
            Interlocked.Increment(ref Entries);
            while (true)
            {
                if (TryConsumeKick())
                {
                    return RunResult.Interrupted;
                }

                if (Halting)
                {
                    Block();
                }
                else
                {
                    Thread.SpinWait(20);
                }
            }
        }
    }
}

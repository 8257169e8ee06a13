using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// Runs a VM the way a KVM VMM does: one host thread per vCPU, each calling <see cref="Vcpu.Run"/> in a
/// loop and handling its exits. <c>KVM_EXIT_MMIO</c> goes to the userspace MMIO bus (the VMM's devices,
/// a bus separate from the VM's in-kernel one), a read's bytes written back into the run area for the
/// vCPU to complete on its next Run; <c>KVM_EXIT_IO</c> goes to the userspace PIO bus, one access per
/// repetition. An access no device takes is logged once per address and the guest continues (reads
/// return 0, port reads all ones). A system event (power-off, reset) stops every vCPU; an internal error
/// or an exit the VMM cannot handle stops them with exit code 3 and a line naming the reason, PC and
/// instruction. <see cref="RequestStop"/> (devices, Ctrl-C) stops the run from any thread; the first stop
/// wins. Nothing is allocated per exit.
/// </summary>
public sealed partial class VmRunner
{
    private readonly Vm _vm;
    private readonly IoBus _mmio;
    private readonly IoBus _pio;
    private readonly RunnerOptions _options;
    private readonly ConcurrentDictionary<ulong, byte> _reportedMmio = new();
    private readonly ConcurrentDictionary<ulong, byte> _reportedPio = new();
    private readonly ManualResetEventSlim _stopped = new(false);
    private readonly CancellationTokenSource _stopping = new();
    private RunOutcome? _outcome;
    private readonly VcpuExits?[] _vcpuExits;
    private readonly VmmExitCounts _exitsBefore;
    private long _unhandledMmio;
    private long _unhandledPio;

    /// <summary>Creates a runner for <paramref name="vm"/> whose userspace devices sit on <paramref name="mmioBus"/> and <paramref name="pioBus"/>.</summary>
    public VmRunner(Vm vm, IoBus mmioBus, IoBus pioBus, RunnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(mmioBus);
        ArgumentNullException.ThrowIfNull(pioBus);
        _vm = vm;
        _mmio = mmioBus;
        _pio = pioBus;
        _options = options ?? new RunnerOptions();
        _exitsBefore = _options.ExitsSeenBefore;
        _vcpuExits = new VcpuExits?[vm.MaxVcpus];
    }

    /// <summary>MMIO accesses no userspace device took.</summary>
    public long UnhandledMmioAccesses => Interlocked.Read(ref _unhandledMmio);

    /// <summary>Port accesses no userspace device took.</summary>
    public long UnhandledPioAccesses => Interlocked.Read(ref _unhandledPio);

    /// <summary>
    /// The <c>KVM_EXIT_MMIO</c> returns this VMM handled, over every vCPU: the VMM's own count, to hold
    /// against the hypervisor's <c>mmio_exits</c> statistic (docs/kvm-semantics.md#x86-mmio-exit-statistic:
    /// one per emulation pass that needed userspace, so the two are equal unless an operand is split into
    /// several fragments).
    /// </summary>
    public long MmioExitsSeen => _exitsBefore.Mmio + SumExits(static e => Volatile.Read(ref e.Mmio));

    /// <summary>The <c>KVM_EXIT_IO</c> returns this VMM handled, over every vCPU (compare with <c>io_exits</c>, which also counts in-kernel ports).</summary>
    public long IoExitsSeen => _exitsBefore.Io + SumExits(static e => Volatile.Read(ref e.Io));

    /// <summary>Both counts, for a snapshot (<see cref="RunnerOptions.ExitsSeenBefore"/> starts a restored run from them).</summary>
    public VmmExitCounts ExitsSeen => new(MmioExitsSeen, IoExitsSeen);

    /// <summary>
    /// Whether every vCPU thread of the last <see cref="Run"/> ended. When false, a thread is still inside
    /// guest code and the VM's memory must not be freed (dispose the VM only when this is true).
    /// </summary>
    public bool VcpuThreadsStopped { get; private set; } = true;

    /// <summary>How the run ended, once it has.</summary>
    public RunOutcome? Outcome => Volatile.Read(ref _outcome);

    /// <summary>
    /// Runs <paramref name="vcpus"/> (default: all of the VM's) each on its own thread until a stop, then
    /// kicks and joins them and returns the outcome. Blocks the calling thread.
    /// </summary>
    public RunOutcome Run(IReadOnlyList<Vcpu>? vcpus = null, CancellationToken cancellation = default)
    {
        vcpus ??= _vm.Vcpus;
        if (vcpus.Count == 0)
        {
            return Finish(new RunOutcome(RunOutcome.InternalErrorExitCode, StopReason.InternalError, "the VM has no vCPUs to run"));
        }

        using var registration = cancellation.Register(() => RequestStop(RunOutcome.CancelledExitCode, StopReason.Cancelled, "interrupted"));
        if (_options.Deterministic is { } deterministic)
        {
            return RunDeterministic(vcpus, deterministic);
        }

        var threads = new Thread[vcpus.Count];
        int running = vcpus.Count;
        for (int i = 0; i < threads.Length; i++)
        {
            var vcpu = vcpus[i];
            _options.Trace?.NameVcpu(vcpu.Id);
            threads[i] = new Thread(
                () =>
                {
                    VcpuLoop(vcpu);
                    if (Interlocked.Decrement(ref running) == 0)
                    {
                        RequestStop(0, StopReason.AllVcpusEnded, "every vCPU thread ended");
                    }
                },
                _options.VcpuThreadStackSize)
            {
                IsBackground = true,
                Name = $"vcpu{vcpu.Id}",
            };
        }

        foreach (var t in threads)
        {
            t.Start();
        }

        _stopped.Wait();
        _options.Debugger?.RunEnded(Volatile.Read(ref _outcome)!);
        _vm.KickAll();
        var deadline = DateTime.UtcNow + _options.StopTimeout;
        bool allStopped = true;
        foreach (var t in threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (!t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                allStopped = false;
                _options.Log?.WriteLine($"softkvm: {t.Name} did not stop within {_options.StopTimeout.TotalSeconds:0.#} s; leaving it");
            }
        }

        VcpuThreadsStopped = allStopped;

        return Volatile.Read(ref _outcome)!;
    }

    /// <summary>
    /// After <see cref="Run"/> returned, for a snapshot: completes every vCPU's pending MMIO or port exit
    /// without running guest code (<c>KVM_RUN</c> with <c>immediate_exit</c>), serving the further exits an
    /// access split into fragments needs through the same devices, so that every vCPU sits at an instruction
    /// boundary with nothing outstanding.
    /// </summary>
    /// <exception cref="InvalidOperationException">a vCPU thread did not stop.</exception>
    public void CompletePendingExits(IReadOnlyList<Vcpu>? vcpus = null)
    {
        if (!VcpuThreadsStopped)
        {
            throw new InvalidOperationException("a vCPU thread is still running");
        }

        foreach (var vcpu in vcpus ?? _vm.Vcpus)
        {
            ref RunState run = ref vcpu.RunState;
            for (int fragment = 0; vcpu.HasPendingCompletion && fragment < 64; fragment++)
            {
                bool immediate = run.ImmediateExit;
                run.ImmediateExit = true;
                var result = vcpu.Run();
                run.ImmediateExit = immediate;
                if (result == RunResult.Ok && run.ExitReason is ExitReason.Mmio or ExitReason.Io)
                {
                    HandleExit(vcpu, ref run);
                }
            }
        }
    }

    /// <summary>Stops the run with <paramref name="exitCode"/> (any thread); the first request wins, later ones are ignored.</summary>
    public void RequestStop(int exitCode, StopReason reason, string message, int? vcpuId = null) =>
        Finish(new RunOutcome(exitCode, reason, message, vcpuId));

    private RunOutcome Finish(RunOutcome outcome)
    {
        if (Interlocked.CompareExchange(ref _outcome, outcome, null) is null)
        {
            _stopped.Set();
            _stopping.Cancel();
            _vm.KickAll();
        }

        return Volatile.Read(ref _outcome)!;
    }

    private bool Stopping => Volatile.Read(ref _outcome) is not null;

    private void VcpuLoop(Vcpu vcpu)
    {
        var trace = _options.Trace;
        var exits = ExitsOf(vcpu); // this vCPU's counts and bus caches, looked up once for the thread's whole loop
        try
        {
            while (!Stopping)
            {
                _options.Debugger?.BeforeRun(vcpu);
                if (Stopping)
                {
                    break;
                }

                var result = vcpu.Run();
                long start = trace?.Timestamp() ?? 0;
                bool go = result switch
                {
                    RunResult.Ok => HandleExit(vcpu, ref vcpu.RunState, exits),
                    RunResult.Interrupted => true, // a kick: the loop condition decides
                    _ => Fail(vcpu, $"vCPU {vcpu.Id}: KVM_RUN failed with {result} ({(int)result})"),
                };
                trace?.WriteExit(vcpu.Id, start, result, in vcpu.RunState);
                if (!go)
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            // A host-side failure (a bug in a device model or in the CPU model) ends the run, never the process.
            Fail(vcpu, $"vCPU {vcpu.Id}: host error {e.GetType().Name}: {Loaders.InputFiles.OneLine(e.Message)}");
        }
    }

    // Returns whether the vCPU goes on running.
    private bool HandleExit(Vcpu vcpu, ref RunState run) => HandleExit(vcpu, ref run, ExitsOf(vcpu));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool HandleExit(Vcpu vcpu, ref RunState run, VcpuExits exits)
    {
        switch (run.ExitReason)
        {
            case ExitReason.Mmio:
                Volatile.Write(ref exits.Mmio, exits.Mmio + 1); // only this vCPU's thread writes it
                HandleMmio(vcpu, ref run.Mmio, ref exits.MmioBus);
                return true;
            case ExitReason.Io:
                Volatile.Write(ref exits.Io, exits.Io + 1);
                return HandleIo(vcpu, ref run, ref exits.PioBus);
            default:
                return HandleOtherExit(vcpu, ref run);
        }
    }

    /// <summary>
    /// Every exit but MMIO and IO (<see cref="HandleExit(Vcpu, ref RunState, VcpuExits)"/>): out of line, so that the
    /// messages' interpolation handlers (locals the runtime zeroes at every call) are not in the frame of the two hot ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool HandleOtherExit(Vcpu vcpu, ref RunState run)
    {
        switch (run.ExitReason)
        {
            case ExitReason.Intr:
                return true;
            case ExitReason.SystemEvent:
                return HandleSystemEvent(vcpu, run.SystemEvent);
            case ExitReason.InternalError:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_INTERNAL_ERROR ({Suberror(run.Internal.Suberror)}): {run.Internal.Message ?? DescribeData(run.Internal)}");
            case ExitReason.ArmNisv:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_ARM_NISV: data abort at IPA 0x{run.ArmNisv.FaultIpa:x} without a valid syndrome (ISS 0x{run.ArmNisv.EsrIss:x})");
            case ExitReason.Hypercall when _options.Hypercalls is { } hypercalls:
                return hypercalls.OnHypercall(vcpu, in run.Hypercall, this, _stopping.Token);
            case ExitReason.Hypercall:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_HYPERCALL (nr 0x{run.Hypercall.Nr:x}, flags 0x{(ulong)run.Hypercall.Flags:x}), but this VMM handles no hypercalls");
            case ExitReason.Debug when _options.Debugger is { } debugger:
                debugger.OnDebugExit(vcpu, in run.Debug);
                return true;
            case ExitReason.Debug:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_DEBUG at PC 0x{run.Debug.Pc:x}, but no debugger is attached");
            case ExitReason.Hlt:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_HLT: the vCPU halted with no in-kernel interrupt controller to wake it");
            case ExitReason.Shutdown:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_SHUTDOWN (triple fault)");
            case ExitReason.FailEntry:
                return Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_FAIL_ENTRY (reason 0x{run.FailEntry.HardwareEntryFailureReason:x}){(run.FailEntry.Message is { } why ? ": " + why : "")}");
            default:
                return Fail(vcpu, $"vCPU {vcpu.Id}: unexpected exit {ExitReasonNames.Kvm(run.ExitReason)}");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.AggressiveInlining)] // an exit path (docs/performance.md#exit-paths-and-tiering), inline in HandleExit
    private void HandleMmio(Vcpu vcpu, ref MmioExit mmio, ref IoBusCache cache)
    {
        Span<byte> data = mmio.Data;
        data = data[..(int)Math.Clamp(mmio.Length, 1u, 8u)];
        if (mmio.IsWrite)
        {
            if (!_mmio.Write(vcpu, mmio.PhysAddr, data, ref cache))
            {
                Unhandled(ref _unhandledMmio, _reportedMmio, "MMIO write", mmio.PhysAddr, data.Length, vcpu.Id, "ignored");
            }
        }
        else if (!_mmio.Read(vcpu, mmio.PhysAddr, data, ref cache))
        {
            data.Clear();
            Unhandled(ref _unhandledMmio, _reportedMmio, "MMIO read", mmio.PhysAddr, data.Length, vcpu.Id, "reads return 0");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.AggressiveInlining)] // an exit path (docs/performance.md#exit-paths-and-tiering), inline in HandleExit
    private bool HandleIo(Vcpu vcpu, ref RunState run, ref IoBusCache cache)
    {
        int size = run.Io.Size;
        long total = (long)size * run.Io.Count;
        if (size is not (1 or 2 or 4) || run.Io.Count == 0 || total > 4096)
        {
            return FailIoShape(vcpu, size, run.Io.Count);
        }

        Span<byte> page = run.PioData;
        ushort port = run.Io.Port;
        bool output = run.Io.Direction == IoDirection.Out;
        for (int i = 0; i < run.Io.Count; i++)
        {
            var slice = page.Slice(i * size, size);
            if (output)
            {
                if (!_pio.Write(vcpu, port, slice, ref cache))
                {
                    Unhandled(ref _unhandledPio, _reportedPio, "port write", port, size, vcpu.Id, "ignored");
                }
            }
            else if (!_pio.Read(vcpu, port, slice, ref cache))
            {
                slice.Fill(0xFF);
                Unhandled(ref _unhandledPio, _reportedPio, "port read", port, size, vcpu.Id, "reads return all ones");
            }
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // (its message's interpolation out of HandleExit's frame)
    private bool FailIoShape(Vcpu vcpu, int size, uint count) =>
        Fail(vcpu, $"vCPU {vcpu.Id}: KVM_EXIT_IO with size {size} and count {count} does not fit the PIO page");

    private bool HandleSystemEvent(Vcpu vcpu, in SystemEventExit e)
    {
        switch (e.Type)
        {
            case SystemEventType.Shutdown:
                RequestStop(0, StopReason.PowerOff, $"vCPU {vcpu.Id} powered the guest off", vcpu.Id);
                break;
            case SystemEventType.Reset:
                RequestStop(0, StopReason.Reset, $"vCPU {vcpu.Id} asked for a reset; SoftKvm stops instead of rebooting", vcpu.Id);
                break;
            case SystemEventType.Crash:
                RequestStop(RunOutcome.InternalErrorExitCode, StopReason.Crash, $"vCPU {vcpu.Id}: the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)", vcpu.Id);
                break;
            default:
                Fail(vcpu, $"vCPU {vcpu.Id}: unknown system event type {(uint)e.Type}");
                break;
        }

        return false;
    }

    private bool Fail(Vcpu vcpu, string message)
    {
        RequestStop(RunOutcome.InternalErrorExitCode, StopReason.InternalError, message, vcpu.Id);
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // (its message out of HandleExit's frame)
    private void Unhandled(ref long counter, ConcurrentDictionary<ulong, byte> reported, string what, ulong address, int length, int vcpuId, string consequence)
    {
        Interlocked.Increment(ref counter);
        if (_options.Log is { } log && reported.TryAdd(address, 0))
        {
            log.WriteLine($"softkvm: unhandled {what} at 0x{address:x} ({length} bytes) by vCPU {vcpuId}; {consequence} (reported once per address)");
        }
    }

    private static string Suberror(InternalErrorSuberror s) => s switch
    {
        InternalErrorSuberror.Emulation => "emulation failure",
        InternalErrorSuberror.SimultaneousException => "simultaneous exceptions",
        InternalErrorSuberror.DeliveryEvent => "event delivery failure",
        InternalErrorSuberror.UnexpectedExitReason => "unexpected exit reason",
        _ => $"suberror {(uint)s}",
    };

    private static string DescribeData(in InternalErrorExit e)
    {
        if (e.NData == 0)
        {
            return "no description";
        }

        var words = new List<string>();
        for (int i = 0; i < Math.Min(e.NData, 16u); i++)
        {
            words.Add($"0x{e.Data[i]:x}");
        }

        return "data " + string.Join(' ', words);
    }
}

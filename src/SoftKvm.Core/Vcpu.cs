using System.Diagnostics;
using System.Runtime.CompilerServices;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Hooks;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Core;

/// <summary>
/// A virtual CPU with KVM's run contract (docs/kvm-semantics.md#run-contract). <see cref="Run"/> runs guest
/// code on the calling thread until an exit the VMM must handle. The order at entry is fixed here, for every
/// architecture: the architecture's entry checks; then the pending completion of the previous exit, taken out
/// of its field before it runs so that it happens exactly once however often Run is called (the one-shot
/// pattern of x86's <c>complete_userspace_io</c>, which also gives arm64 the guard of "Only skip MMIO insn
/// once"); then <see cref="RunState.ImmediateExit"/>; then the loop.
/// </summary>
public abstract partial class Vcpu : IDisposable
{
    private readonly ManualResetEventSlim _wakeup = new(false);
    private RunState _run;
    private int _requests;
    private int _pendingCompletion;
    private int _runningThread;
    private int _exitInProgress = -1;
    private long[]? _exitTicks;
    private long _exitStart;
    private bool _hooksTaken;
    private HaltPollWindow _haltPoll;

    /// <summary>Creates the vCPU; called by the architecture's VM.</summary>
    protected Vcpu(Vm vm, int id, StatsSchema statsSchema)
    {
        Vm = vm;
        Id = id;
        Stats = new StatsBlock(statsSchema);
    }

    /// <summary>The VM this vCPU belongs to.</summary>
    public Vm Vm { get; }

    /// <summary>The vCPU id (KVM's vcpu_id).</summary>
    public int Id { get; }

    /// <summary>The shared run area: the exit after <see cref="Run"/>, and the VMM's input to the next Run.</summary>
    public ref RunState RunState => ref _run;

    /// <summary>This vCPU's statistics.</summary>
    public StatsBlock Stats { get; }

    /// <summary>Whether a completion of the last exit is still owed to the guest (KVM's <c>mmio_needed</c>, or a non-null <c>complete_userspace_io</c>).</summary>
    public bool HasPendingCompletion => Volatile.Read(ref _pendingCompletion) != 0;

    /// <summary>
    /// The managed id of the thread inside <see cref="Run"/>, or 0: for the architecture's run loop, which runs on that
    /// thread and need not ask the runtime for its id again (a thread-local look-up per round trip).
    /// </summary>
    protected int RunningThreadId
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _runningThread);
    }

    /// <summary>Whether a thread is inside <see cref="Run"/>.</summary>
    public bool IsRunning => Volatile.Read(ref _runningThread) != 0;

    /// <summary>
    /// Whether another thread is inside <see cref="Run"/>. The vCPU's own thread is inside Run while it calls
    /// an embedder hook (<see cref="Vm.Hooks"/>), and may read and write the registers from there.
    /// </summary>
    public bool IsRunningOnAnotherThread
    {
        get
        {
            int thread = Volatile.Read(ref _runningThread);
            return thread != 0 && thread != Environment.CurrentManagedThreadId;
        }
    }

    /// <summary>
    /// The request word; the architecture passes it by reference to its CPU model, whose execution loop
    /// stops at the next block boundary once it is non-zero.
    /// </summary>
    protected ref int RequestWord => ref _requests;

    /// <summary>Whether any request is pending (one volatile read).</summary>
    protected bool HasRequests
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _requests) != 0;
    }

    /// <summary>
    /// Runs the vCPU until an exit for the VMM (docs/kvm-semantics.md#run-contract). Returns
    /// <see cref="RunResult.Ok"/> with <see cref="RunState.ExitReason"/> set, or a negative result.
    /// </summary>
    /// <exception cref="VcpuException">another thread is running this vCPU.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public RunResult Run()
    {
        int thread = Environment.CurrentManagedThreadId;
        if (Interlocked.CompareExchange(ref _runningThread, thread, 0) != 0)
        {
            throw new VcpuException($"vCPU {Id} is already running on another thread");
        }

        try
        {
            var result = BeforeRun();
            if (result != RunResult.Ok)
            {
                return result;
            }

            // Taken out of its field before it runs. Only the thread inside Run (or Init, between runs) writes the
            // field, so a read and a write do what an exchange would, without its locked instruction.
            int pending = Volatile.Read(ref _pendingCompletion);
            if (pending != 0)
            {
                Volatile.Write(ref _pendingCompletion, 0);
                if (!CompletePending(pending, out result))
                {
                    return result;
                }
            }

            if (_run.ImmediateExit)
            {
                return RunResult.Interrupted;
            }

            _run.ExitReason = ExitReason.Unknown;
            return RunLoop();
        }
        finally
        {
            Volatile.Write(ref _runningThread, 0);
        }
    }

    /// <summary>
    /// Makes a running vCPU return <see cref="ExitReason.Intr"/> at its next block boundary, or a halted
    /// one wake and return; from any thread. A kick is remembered until a run loop consumes it, as a
    /// pending signal is.
    /// </summary>
    public void Kick() => MakeRequest(VcpuRequest.Kick);

    /// <summary>Sets request bits and wakes the vCPU if it is halted (any thread).</summary>
    public void MakeRequest(VcpuRequest request)
    {
        Interlocked.Or(ref _requests, (int)request);
        OnRequestMade();
        _wakeup.Set();
    }

    /// <summary>
    /// The guest program counter (arm64 PC, x86 linear RIP) read from any thread without stopping the
    /// vCPU, for a sampling profiler: a racy read that may be one instruction stale, never torn.
    /// </summary>
    public virtual ulong SampleProgramCounter() => 0;

    /// <summary>
    /// Starts timing every exit the architecture marks (<see cref="BeginExit"/> to <see cref="EndExit"/>) on
    /// this vCPU's thread, per reason, for <see cref="ExitHandlingTime"/>: two reads of the host's clock per
    /// exit while on, nothing but a test of one field while off. Call it before the vCPU first runs. A profiler calls
    /// it; the architecture then starts its own profile counters too (<see cref="OnProfilingStarted"/>).
    /// </summary>
    public void TimeExits()
    {
        _exitTicks ??= new long[Stats.Schema.Descriptors.Count];
        OnProfilingStarted();
    }

    /// <summary>Called by <see cref="TimeExits"/>: an architecture starts the counters its <see cref="CpuModelCounters"/> reports only when profiled.</summary>
    protected virtual void OnProfilingStarted()
    {
    }

    /// <summary>
    /// The host time this vCPU's thread spent handling exits counted by statistic <paramref name="stat"/>
    /// since <see cref="TimeExits"/> (zero when exits are not timed, or for an index outside the schema, such as
    /// <see cref="StatsSchema.IndexOf"/>'s -1); over the statistic's count, the
    /// average host-side cost of one such exit (the clock reads included). Read it when the vCPU has stopped
    /// or accept a figure that lags by the exit in progress.
    /// </summary>
    public TimeSpan ExitHandlingTime(int stat)
    {
        var ticks = _exitTicks;
        return ticks is null || (uint)stat >= (uint)ticks.Length
            ? TimeSpan.Zero
            : TimeSpan.FromSeconds(Volatile.Read(ref ticks[stat]) / (double)Stopwatch.Frequency);
    }

    /// <summary>Whether exits are timed (<see cref="TimeExits"/>): an exit completed where <see cref="BeginExit"/> cannot mark it (generated code) must not be completed there then.</summary>
    protected bool ExitsTimed => _exitTicks is not null;

    /// <summary>Marks the start of handling an exit counted by statistic <paramref name="stat"/> (timed per reason for <see cref="ExitHandlingTime"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every exit; NativeAOT does not inline it on its own
    protected void BeginExit(int stat)
    {
        _exitInProgress = stat;
        if (_exitTicks is not null)
        {
            _exitStart = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Marks the return to guest code (see <see cref="BeginExit"/>); a no-op when no exit is marked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every entry; NativeAOT does not inline it on its own
    protected void EndExit()
    {
        int stat = _exitInProgress;
        _exitInProgress = -1;
        if (_exitTicks is not null && stat >= 0)
        {
            AddExitTicks(stat);
        }
    }

    private void AddExitTicks(int stat) => _exitTicks![stat] += Stopwatch.GetTimestamp() - _exitStart;

    /// <summary>
    /// The CPU model's own counters for a profile (instructions retired, software-TLB and decode-cache
    /// misses ...), as name and value; read after the run. Not statistics of the KVM API.
    /// </summary>
    public virtual IReadOnlyList<KeyValuePair<string, long>> CpuModelCounters() => [];

    /// <summary>Wakes a halted vCPU so it re-checks its wake-up condition (any thread).</summary>
    public void Wake() => _wakeup.Set();

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the vCPU's resources.</summary>
    /// <remarks>
    /// The wake-up event is deliberately not disposed: <see cref="Kick"/> may come from any thread at
    /// any time, also while the VM is torn down, and must never throw. The event never creates its
    /// kernel wait handle (nothing reads <c>WaitHandle</c>), so there is nothing to release.
    /// </remarks>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>
    /// Called on the requesting thread after a request bit is set: an architecture whose CPU model polls
    /// its own stop flag less often than the request word sets that flag here, so that a kick stops a
    /// running vCPU promptly. Must be thread-safe and must not block.
    /// </summary>
    protected virtual void OnRequestMade()
    {
    }

    /// <summary>
    /// Architecture checks at entry before any completion (arm64: -ENOEXEC for an uninitialised vCPU,
    /// first-run init).
    /// </summary>
    protected virtual RunResult BeforeRun() => RunResult.Ok;

    /// <summary>
    /// The run loop (docs/kvm-semantics.md#run-contract, step 4). Called with the exit reason reset to
    /// Unknown. Must check for a kick with <see cref="TryConsumeKick"/> on every pass, and never allocate per
    /// instruction.
    /// </summary>
    protected abstract RunResult RunLoop();

    /// <summary>
    /// Completes the exit the VMM has handled: write the register, retire the instruction (exactly once:
    /// the field was cleared before this call). Return true to go on into the loop, false to return
    /// <paramref name="result"/> at once (for example another fragment needs another exit).
    /// </summary>
    /// <param name="kind">The value given to <see cref="SetPendingCompletion"/>.</param>
    /// <param name="result">What Run returns when this returns false.</param>
    protected abstract bool CompletePending(int kind, out RunResult result);

    /// <summary>Records that the exit being returned needs completion on the next Run (kind must be non-zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every VMM exit; NativeAOT left it a call
    protected void SetPendingCompletion(int kind)
    {
        ArgumentOutOfRangeException.ThrowIfZero(kind);
        Volatile.Write(ref _pendingCompletion, kind);
    }

    /// <summary>
    /// For a snapshot: completes the exit the VMM handled, if one is pending, without running guest code (a
    /// <see cref="Run"/> with <see cref="RunState.ImmediateExit"/> set), so the vCPU is at an instruction boundary.
    /// </summary>
    /// <exception cref="VcpuException">the completion needs another exit first (an access split in fragments):
    /// the VMM must handle it and call again.</exception>
    internal void CompletePendingForSnapshot()
    {
        if (!HasPendingCompletion)
        {
            return;
        }

        bool immediate = _run.ImmediateExit;
        _run.ImmediateExit = true;
        try
        {
            var result = Run();
            if (result == RunResult.Ok || HasPendingCompletion)
            {
                throw new VcpuException($"vCPU {Id} needs its {_run.ExitReason} exit handled before a snapshot can be taken");
            }
        }
        finally
        {
            _run.ImmediateExit = immediate;
        }
    }

    /// <summary>Drops a pending completion without running it (for example a reset of the vCPU).</summary>
    protected void ClearPendingCompletion() => Volatile.Write(ref _pendingCompletion, 0);

    /// <summary>
    /// The run loop's hook check (docs/hooks.md): on the first pass, and whenever the VM's hooks changed
    /// (<see cref="VcpuRequest.HooksChanged"/>), returns true with the hooks this vCPU runs with now (null:
    /// none); the architecture hands them to its CPU model before it runs guest code.
    /// </summary>
    protected bool TryTakeHooks(out CpuHooks? hooks)
    {
        if (!TestAndClearRequest(VcpuRequest.HooksChanged) && _hooksTaken)
        {
            hooks = null;
            return false;
        }

        _hooksTaken = true;
        hooks = Vm.Hooks.Bind(this);
        return true;
    }

    /// <summary>
    /// Whether the run loop's entry checks have anything to find: a request, the hooks not taken yet, or a turn given
    /// up (deterministic execution). When false, <see cref="TryConsumeKick"/>, <see cref="TestAndClearRequest"/> and
    /// <see cref="TryTakeHooks"/> would all find nothing, and a loop may skip them (one read instead of several).
    /// </summary>
    protected bool HasEntryWork
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _requests) != 0 || !_hooksTaken || _turnYielded;
    }

    /// <summary>Whether <paramref name="request"/> is pending, clearing it.</summary>
    protected bool TestAndClearRequest(VcpuRequest request)
    {
        if ((Volatile.Read(ref _requests) & (int)request) == 0)
        {
            return false;
        }

        return (Interlocked.And(ref _requests, ~(int)request) & (int)request) != 0;
    }

    /// <summary>
    /// The loop's signal check: when a kick is pending, consumes it, sets <see cref="ExitReason.Intr"/>,
    /// counts <c>signal_exits</c> and returns true (the loop then returns <see cref="RunResult.Interrupted"/>).
    /// </summary>
    protected bool TryConsumeKick()
    {
        if (_turnYielded)
        {
            // Deterministic execution: the vCPU gave up the rest of its turn (Vcpu.Deterministic.cs).
            _turnYielded = false;
            _run.ExitReason = ExitReason.Intr;
            return true;
        }

        if (!TestAndClearRequest(VcpuRequest.Kick))
        {
            return false;
        }

        _run.ExitReason = ExitReason.Intr;
        Stats.Increment(VcpuStat.SignalExits);
        return true;
    }

    /// <summary>Whether the vCPU has something that ends a halt (an interrupt it can take); the architecture decides.</summary>
    protected abstract bool HasWakeupEvent();

    /// <summary>
    /// Halts the calling (vCPU) thread until <see cref="HasWakeupEvent"/> holds, a request is made, or the host
    /// time <paramref name="deadline"/> (a <see cref="Stopwatch"/> timestamp; long.MaxValue for none) passes:
    /// KVM's <c>kvm_vcpu_halt</c> (docs/kvm-semantics.md#halt-polling). It first polls for up to the vCPU's
    /// adaptive window (none at first; see <see cref="Vm.MaxHaltPollNs"/>) while no more vCPU threads of the
    /// VM are runnable than the host has processors, then blocks. Counts <c>halt_attempted_poll</c>,
    /// <c>halt_successful_poll</c>, <c>halt_poll_success_ns</c> / <c>halt_poll_fail_ns</c>, and for a halt that
    /// blocked <c>halt_wakeup</c>, <c>halt_wait_ns</c> and <c>blocking</c> while it does.
    /// </summary>
    protected HaltOutcome Block(long deadline = long.MaxValue)
    {
        if (_deterministic)
        {
            return BlockDeterministic(deadline);
        }

        long start = Stopwatch.GetTimestamp();
        long maxPollNs = Vm.MaxHaltPollNs;
        bool poll = _haltPoll.Ns > 0 && maxPollNs > 0 && Vm.PollingAllowed();
        long pollEnd = start;
        HaltOutcome outcome = HaltOutcome.Event;
        bool ended = false;
        if (poll)
        {
            long stop = start + (long)(_haltPoll.Ns * (Stopwatch.Frequency / 1e9));
            while (true)
            {
                if (TryEndHalt(deadline, pollEnd, out outcome))
                {
                    ended = true;
                    break;
                }

                Thread.SpinWait(16);
                pollEnd = Stopwatch.GetTimestamp();
                if (pollEnd >= stop)
                {
                    break;
                }
            }
        }

        bool waited = false;
        long end = pollEnd;
        if (!ended)
        {
            Vm.EnterBlocking();
            Stats.Set(VcpuStat.Blocking, 1);
            while (true)
            {
                _wakeup.Reset();
                long now = Stopwatch.GetTimestamp();
                if (TryEndHalt(deadline, now, out outcome))
                {
                    end = now;
                    break;
                }

                waited = true;
                if (deadline == long.MaxValue)
                {
                    _wakeup.Wait();
                }
                else
                {
                    var wait = Stopwatch.GetElapsedTime(now, deadline);
                    _wakeup.Wait(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait);
                }
            }

            Stats.Set(VcpuStat.Blocking, 0);
            Vm.LeaveBlocking();
            if (waited)
            {
                Stats.Add(VcpuStat.HaltWaitNs, Nanoseconds(end - pollEnd));
                Stats.Increment(VcpuStat.HaltWakeup);
            }
        }

        if (poll)
        {
            // Successful so long as the vCPU never slept, even if the event came just after the polling loop.
            long pollNs = Nanoseconds(pollEnd - start);
            Stats.Increment(VcpuStat.HaltAttemptedPoll);
            if (!waited)
            {
                Stats.Increment(VcpuStat.HaltSuccessfulPoll);
                Stats.Add(VcpuStat.HaltPollSuccessNs, pollNs);
            }
            else
            {
                Stats.Add(VcpuStat.HaltPollFailNs, pollNs);
            }
        }

        _haltPoll.Update(Nanoseconds(end - start), maxPollNs, validWakeup: true);
        return outcome;
    }

    /// <summary>The vCPU's halt-polling window in nanoseconds (KVM's <c>vcpu-&gt;halt_poll_ns</c>; tests set it).</summary>
    internal long HaltPollNs
    {
        get => _haltPoll.Ns;
        set => _haltPoll.Ns = value;
    }

    /// <summary>Whether the halt ends now, and why (a wake-up event, a request, or the deadline at <paramref name="now"/>).</summary>
    private bool TryEndHalt(long deadline, long now, out HaltOutcome outcome)
    {
        if (HasWakeupEvent())
        {
            outcome = HaltOutcome.Event;
            return true;
        }

        if (HasRequests)
        {
            outcome = HaltOutcome.Request;
            return true;
        }

        outcome = HaltOutcome.Timeout;
        return now >= deadline;
    }

    private static long Nanoseconds(long ticks) => (long)(ticks * (1e9 / Stopwatch.Frequency));
}

/// <summary>Why <see cref="Vcpu"/>'s blocking halt ended.</summary>
public enum HaltOutcome
{
    /// <summary>A wake-up event (an interrupt) is pending.</summary>
    Event,

    /// <summary>A request (kick, stop, memory change) was made.</summary>
    Request,

    /// <summary>The deadline (a guest timer) passed.</summary>
    Timeout,
}

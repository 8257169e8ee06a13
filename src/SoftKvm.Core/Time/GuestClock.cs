using System.Diagnostics;

namespace SoftKvm.Core.Time;

/// <summary>
/// The time a VM's guest sees (docs/snapshots.md#deterministic-execution). By default it is the host's
/// monotonic clock (<see cref="Stopwatch"/>) and the host's wall clock. Made virtual
/// (<see cref="MakeVirtual"/>, <c>--deterministic</c>), it advances only with the instructions the vCPUs
/// retire, <see cref="NanosecondsPerInstruction"/> each, and by jumps when every vCPU is halted: the
/// runner tells it which vCPU runs (<see cref="BeginTurn"/>/<see cref="EndTurn"/>), so a read in the middle
/// of a vCPU's turn counts that vCPU's instructions so far, and the wall clock starts at a fixed epoch.
/// Every device and CPU model reads guest time through <see cref="Timestamp"/> (in <see cref="Stopwatch"/>
/// ticks, virtual or not) or <see cref="TimeProvider"/>, so one switch makes all of it virtual.
/// </summary>
public sealed class GuestClock
{
    /// <summary>Virtual nanoseconds per retired instruction (a 1 GHz virtual CPU).</summary>
    public const long NanosecondsPerInstruction = 1;

    /// <summary>The wall-clock time a deterministic run starts at unless told otherwise: 2026-01-01 00:00:00 UTC.</summary>
    public static readonly DateTimeOffset DefaultEpoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly bool s_nanosecondTicks = Stopwatch.Frequency == 1_000_000_000;

    private readonly List<VirtualTimer> _timers = [];
    private long _baseNs;
    private Vcpu? _running;
    private long _runningStart;

    /// <summary>Creates a clock that follows the host.</summary>
    public GuestClock() => TimeProvider = new GuestTimeProvider(this);

    /// <summary>Whether guest time is virtual (deterministic execution).</summary>
    public bool IsVirtual { get; private set; }

    /// <summary>The wall-clock time at virtual nanosecond 0 (virtual clocks only).</summary>
    public DateTimeOffset Epoch { get; private set; }

    /// <summary>
    /// The clock as a <see cref="System.TimeProvider"/>, for devices that keep wall-clock time or timers (the
    /// PL031 and CMOS real-time clocks): the host's, or the epoch plus virtual time with timers that fire at
    /// the runner's turn boundaries (<see cref="FireDueTimers"/>).
    /// </summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// Makes the clock virtual, at <paramref name="nanoseconds"/> since <paramref name="epoch"/>. Call it before
    /// any device or vCPU reads the time (right after the VM is created), or when restoring a snapshot.
    /// </summary>
    public void MakeVirtual(DateTimeOffset epoch, long nanoseconds = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanoseconds);
        Epoch = epoch;
        _baseNs = nanoseconds;
        IsVirtual = true;
    }

    /// <summary>
    /// Where the deterministic schedule stands (kept with the clock, so a snapshot resumes it exactly): the
    /// rounds completed (every vCPU had its turn, then timers and console input were served).
    /// </summary>
    public long Round { get; set; }

    /// <summary>The index (into the VM's vCPUs) of the turn the schedule is in or starts next.</summary>
    public int TurnIndex { get; set; }

    /// <summary>
    /// The instructions left of the turn at <see cref="TurnIndex"/>, when a snapshot resumes a run that stopped in
    /// the middle of it; -1: the turn starts fresh.
    /// </summary>
    public long TurnLeft { get; set; } = -1;

    /// <summary>Whether a vCPU of the round so far did not end its turn halted.</summary>
    public bool RoundBusy { get; set; }

    /// <summary>The earliest halt deadline of the round so far, in virtual nanoseconds (<see cref="long.MaxValue"/>: none).</summary>
    public long RoundDeadline { get; set; } = long.MaxValue;

    /// <summary>Whether a vCPU's turn is open (<see cref="BeginTurn"/> without <see cref="EndTurn"/>).</summary>
    public bool InTurn => _running is not null;

    /// <summary>Virtual nanoseconds since the epoch now, counting the running vCPU's instructions of its turn so far.</summary>
    public long Nanoseconds
    {
        get
        {
            var running = _running;
            return running is null ? _baseNs : _baseNs + ((running.InstructionsRetired - _runningStart) * NanosecondsPerInstruction);
        }
    }

    /// <summary>Guest time now in <see cref="Stopwatch"/> ticks: the host's timestamp, or virtual time.</summary>
    public long Timestamp() => IsVirtual ? TicksOf(Nanoseconds) : Stopwatch.GetTimestamp();

    /// <summary>Virtual nanoseconds of a <see cref="Timestamp"/> value (<see cref="long.MaxValue"/> stays).</summary>
    public static long NanosecondsOf(long timestamp) =>
        timestamp == long.MaxValue || s_nanosecondTicks ? timestamp : (long)((Int128)timestamp * 1_000_000_000 / Stopwatch.Frequency);

    /// <summary><see cref="Stopwatch"/> ticks of virtual <paramref name="nanoseconds"/>.</summary>
    public static long TicksOf(long nanoseconds) =>
        s_nanosecondTicks ? nanoseconds : (long)((Int128)nanoseconds * Stopwatch.Frequency / 1_000_000_000);

    /// <summary>The runner starts <paramref name="vcpu"/>'s turn: its retired instructions advance the clock until <see cref="EndTurn"/>.</summary>
    public void BeginTurn(Vcpu vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        _running = vcpu;
        _runningStart = vcpu.InstructionsRetired;
    }

    /// <summary>Ends the running vCPU's turn, adding its instructions to the clock.</summary>
    public void EndTurn()
    {
        _baseNs = Nanoseconds;
        _running = null;
    }

    /// <summary>Jumps to <paramref name="nanoseconds"/> (every vCPU halted until then); never backwards, never within a turn.</summary>
    public void AdvanceTo(long nanoseconds)
    {
        if (_running is not null)
        {
            throw new InvalidOperationException("the clock jumps only between turns");
        }

        _baseNs = Math.Max(_baseNs, nanoseconds);
    }

    /// <summary>When the earliest virtual timer of <see cref="TimeProvider"/> is due, in virtual nanoseconds (<see cref="long.MaxValue"/>: none).</summary>
    public long NextTimerDue
    {
        get
        {
            long due = long.MaxValue;
            foreach (var t in _timers)
            {
                due = Math.Min(due, t.DueNs);
            }

            return due;
        }
    }

    /// <summary>Runs the callbacks of the virtual timers that are due, in due order (the runner, between turns).</summary>
    public void FireDueTimers()
    {
        while (true)
        {
            VirtualTimer? next = null;
            foreach (var t in _timers)
            {
                if (t.DueNs <= _baseNs && (next is null || t.DueNs < next.DueNs))
                {
                    next = t;
                }
            }

            if (next is null)
            {
                return;
            }

            next.Fire();
        }
    }

    private sealed class GuestTimeProvider(GuestClock clock) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() =>
            clock.IsVirtual ? clock.Epoch + TimeSpan.FromTicks(clock.Nanoseconds / 100) : System.GetUtcNow();

        public override long GetTimestamp() => clock.Timestamp();

        public override long TimestampFrequency => Stopwatch.Frequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (!clock.IsVirtual)
            {
                return System.CreateTimer(callback, state, dueTime, period);
            }

            var timer = new VirtualTimer(clock, callback, state);
            timer.Change(dueTime, period);
            return timer;
        }
    }

    /// <summary>A timer of the virtual clock: due at a virtual time, fired by the runner between turns.</summary>
    private sealed class VirtualTimer(GuestClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _periodNs;

        public long DueNs { get; private set; } = long.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            _periodNs = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? 0 : (long)period.TotalNanoseconds;
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                DueNs = long.MaxValue;
                clock._timers.Remove(this);
                return true;
            }

            DueNs = clock.Nanoseconds + Math.Max(0, (long)dueTime.TotalNanoseconds);
            if (!clock._timers.Contains(this))
            {
                clock._timers.Add(this);
            }

            return true;
        }

        public void Fire()
        {
            if (_periodNs > 0)
            {
                DueNs += _periodNs;
            }
            else
            {
                DueNs = long.MaxValue;
                clock._timers.Remove(this);
            }

            callback(state);
        }

        public void Dispose()
        {
            DueNs = long.MaxValue;
            clock._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Core;

/// <summary>Why a vCPU's turn of deterministic execution ended (<see cref="Vcpu.TurnEnd"/>).</summary>
public enum VcpuTurnEnd
{
    /// <summary>The turn has not ended (Run returned for an exit the VMM handles; the turn goes on).</summary>
    None,

    /// <summary>The vCPU retired the instructions of its quantum.</summary>
    QuantumUsed,

    /// <summary>The vCPU waits for another vCPU (WFE): it gave up the rest of its quantum.</summary>
    Yielded,

    /// <summary>The vCPU is halted (WFI, HLT, powered off) with nothing to wake it yet.</summary>
    Halted,
}

/// <summary>
/// Deterministic execution (docs/snapshots.md#deterministic-execution): a runner gives the vCPU turns of a
/// fixed number of retired instructions (<see cref="BeginTurn"/>); <see cref="Run"/> returns
/// <see cref="RunResult.Interrupted"/> when the turn ends, the reason in <see cref="TurnEnd"/>. A halt does
/// not sleep: it ends the turn with the halt's deadline in <see cref="HaltDeadline"/>, and the next turn
/// looks again. The halt statistics count virtual time then, so they are the same in every run.
/// </summary>
public abstract partial class Vcpu
{
    private bool _deterministic;
    private bool _turnYielded;
    private bool _haltedDeterministic;
    private long _quantumEnd = long.MaxValue;
    private long _haltStartNs;
    private long _haltRetired;

    /// <summary>
    /// Instructions the guest retired on this vCPU, exact at any point of a run (also in the middle of a
    /// translated block, when the CPU model calls out): the virtual clock's measure of progress.
    /// </summary>
    public virtual long InstructionsRetired => 0;

    /// <summary>Whether the vCPU runs in deterministic turns (set by the first <see cref="BeginTurn"/>).</summary>
    public bool IsDeterministic => _deterministic;

    /// <summary>Why the last turn ended (<see cref="VcpuTurnEnd.None"/> while it goes on).</summary>
    public VcpuTurnEnd TurnEnd { get; private set; }

    /// <summary>When the halt that ended the turn ends by itself (a guest timer), as a <see cref="Time.GuestClock"/> timestamp; <see cref="long.MaxValue"/>: never.</summary>
    public long HaltDeadline { get; private set; } = long.MaxValue;

    /// <summary>
    /// Deterministic execution: a halt instruction (WFI) retired and ended a turn, and the next turn goes on
    /// waiting (through <see cref="Block"/>) until a wake-up event; kept in snapshots.
    /// </summary>
    protected bool WaitsInHalt { get; set; }

    /// <summary>The instructions left of the current turn.</summary>
    public long QuantumLeft => _quantumEnd - InstructionsRetired;

    /// <summary>Whether the vCPU has something to do: a request (a kick, an interrupt, a power-on) or a wake-up event.</summary>
    public bool HasPendingWork => HasRequests || HasWakeupEvent();

    /// <summary>Starts a turn of <paramref name="quantum"/> retired instructions (the runner, between runs).</summary>
    public void BeginTurn(long quantum)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(quantum);
        _deterministic = true;
        _quantumEnd = InstructionsRetired + quantum;
        TurnEnd = VcpuTurnEnd.None;
        HaltDeadline = long.MaxValue;
    }

    /// <summary>
    /// The run loop's budget in deterministic execution: <paramref name="budget"/> cut to what is left of the
    /// quantum. False when nothing is left: the turn ended, the loop returns <see cref="RunResult.Interrupted"/>
    /// (exit reason Intr, not a signal exit).
    /// </summary>
    protected bool TryTakeQuantum(ref long budget)
    {
        long left = _quantumEnd - InstructionsRetired;
        if (left <= 0)
        {
            TurnEnd = VcpuTurnEnd.QuantumUsed;
            _run.ExitReason = ExitReason.Intr;
            return false;
        }

        budget = Math.Min(budget, left);
        return true;
    }

    /// <summary>Gives up the rest of the turn (a WFE in deterministic execution); the loop's next <see cref="TryConsumeKick"/> returns.</summary>
    protected void YieldTurn()
    {
        TurnEnd = VcpuTurnEnd.Yielded;
        _turnYielded = true;
    }

    /// <summary>
    /// A halt that ended without <see cref="Block"/> seeing it (the architecture found the wake-up event
    /// itself): counts the wake-up and the virtual time halted.
    /// </summary>
    protected void NoteHaltEnded()
    {
        if (_haltedDeterministic)
        {
            EndDeterministicHalt();
        }
    }

    // Block in deterministic execution: never sleeps. Without a wake-up event or a request, the turn ends
    // halted (the loop's next TryConsumeKick returns); the runner moves time on and looks again next turn.
    private HaltOutcome BlockDeterministic(long deadline)
    {
        if (_haltedDeterministic && InstructionsRetired != _haltRetired)
        {
            EndDeterministicHalt(); // the vCPU ran since: that halt ended when it woke
        }

        if (HasWakeupEvent())
        {
            NoteHaltEnded();
            return HaltOutcome.Event;
        }

        if (HasRequests)
        {
            return HaltOutcome.Request;
        }

        if (!_haltedDeterministic)
        {
            _haltedDeterministic = true;
            _haltStartNs = Vm.Clock.Nanoseconds;
            _haltRetired = InstructionsRetired;
            Stats.Set(VcpuStat.Blocking, 1);
        }

        HaltDeadline = deadline;
        TurnEnd = VcpuTurnEnd.Halted;
        _turnYielded = true;
        return HaltOutcome.Request;
    }

    /// <summary>Writes the halt state of deterministic execution (the virtual clock's snapshot section).</summary>
    public void SaveDeterministicState(BinaryWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.Write(WaitsInHalt);
        w.Write(_haltedDeterministic);
        w.Write(_haltStartNs);
        w.Write(_haltRetired);
    }

    /// <summary>Reads what <see cref="SaveDeterministicState"/> wrote.</summary>
    public void LoadDeterministicState(BinaryReader r)
    {
        ArgumentNullException.ThrowIfNull(r);
        WaitsInHalt = r.ReadBoolean();
        _haltedDeterministic = r.ReadBoolean();
        _haltStartNs = r.ReadInt64();
        _haltRetired = r.ReadInt64();
    }

    private void EndDeterministicHalt()
    {
        _haltedDeterministic = false;
        Stats.Set(VcpuStat.Blocking, 0);
        Stats.Add(VcpuStat.HaltWaitNs, Vm.Clock.Nanoseconds - _haltStartNs);
        Stats.Increment(VcpuStat.HaltWakeup);
    }
}

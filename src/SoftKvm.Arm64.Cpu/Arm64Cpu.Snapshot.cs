namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Restoring a saved PE (docs/snapshots.md): the architectural state as one <see cref="CpuState"/>, and the
/// event register. What the model caches from that state (alignment checking, the access tags, the debug
/// arming, the attention flag, the PSTATE flags it implements) is derived again; the software TLBs are
/// flushed and the exclusive monitor is clear (which the architecture allows at any time). Decoded and
/// translated code is looked up by guest-physical page and rebuilt on demand.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>The event register (set by SEV, an exception return or a monitor clear; consumed by WFE).</summary>
    public bool EventRegister => Volatile.Read(ref _eventRegister);

    /// <summary>Replaces the architectural state with <paramref name="state"/> and the event register with <paramref name="eventRegister"/>.</summary>
    public void LoadState(in CpuState state, bool eventRegister)
    {
        State = state;
        MaskPstateFlags();
        UpdateAlignment();
        FlushTlb();
        ClearExclusive();
        Volatile.Write(ref _eventRegister, eventRegister);
        ResetRetiredByLevel();
        UpdateTagEl();
        RecomputeDebugArming();
        UpdateAttention();
    }
}

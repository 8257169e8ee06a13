namespace SoftKvm.Core.Stats;

/// <summary>
/// The statistics every vCPU keeps whatever its architecture (docs/kvm-semantics.md#statistics),
/// at fixed indexes 0..<see cref="Count"/>-1. Architectures append their own after these.
/// </summary>
public static class VcpuStat
{
    /// <summary>
    /// <c>exits</c>: every return from guest execution (the software CPU's run call) to the hypervisor's
    /// run loop, whatever its reason, counted the same way on arm64 and x86, as KVM counts every exit
    /// from guest mode: traps (MMIO, port IO, HVC/SMC, WFI/WFE, HLT, CPUID, MSRs, intercepted exceptions),
    /// the end of an instruction budget and a stop for a kick or another request (the analogues of the
    /// exits a host interrupt causes under KVM), and arm64's stops to re-evaluate its interrupt lines
    /// after the guest wrote GIC, timer or DAIF state; and x86's failed entries (KVM_EXIT_FAIL_ENTRY, which
    /// KVM counts too). Not counted: the completion of a previous exit or an emulation pass that runs no
    /// guest code, and time halted (a halted vCPU is not in the guest).
    /// </summary>
    public const int Exits = 0;

    /// <summary><c>signal_exits</c>: the run loop stopped for a kick (<c>KVM_EXIT_INTR</c>).</summary>
    public const int SignalExits = 1;

    /// <summary><c>halt_successful_poll</c>.</summary>
    public const int HaltSuccessfulPoll = 2;

    /// <summary><c>halt_attempted_poll</c>.</summary>
    public const int HaltAttemptedPoll = 3;

    /// <summary><c>halt_poll_invalid</c>.</summary>
    public const int HaltPollInvalid = 4;

    /// <summary><c>halt_wakeup</c>: the vCPU woke from a blocking halt.</summary>
    public const int HaltWakeup = 5;

    /// <summary><c>halt_poll_success_ns</c>.</summary>
    public const int HaltPollSuccessNs = 6;

    /// <summary><c>halt_poll_fail_ns</c>.</summary>
    public const int HaltPollFailNs = 7;

    /// <summary><c>halt_wait_ns</c>: time spent blocked.</summary>
    public const int HaltWaitNs = 8;

    /// <summary><c>blocking</c>: 1 while the vCPU is blocked.</summary>
    public const int Blocking = 9;

    /// <summary>The number of generic vCPU statistics; architecture statistics start here.</summary>
    public const int Count = 10;

    /// <summary>The generic descriptors, in index order.</summary>
    public static IReadOnlyList<StatDescriptor> Descriptors { get; } =
    [
        new("exits", Description: "returns from guest execution to the hypervisor, any reason (traps, budget ends, kicks)"),
        new("signal_exits", Description: "run loop stopped by a kick (KVM_EXIT_INTR)"),
        new("halt_successful_poll", Description: "halt polling ended with a wake-up event"),
        new("halt_attempted_poll", Description: "halt polling attempts"),
        new("halt_poll_invalid", Description: "halt polling aborted because the vCPU state was invalid"),
        new("halt_wakeup", Description: "wake-ups from a blocking halt"),
        new("halt_poll_success_ns", Unit: StatUnit.Seconds, Exponent: -9, Description: "time polling that ended in a wake-up"),
        new("halt_poll_fail_ns", Unit: StatUnit.Seconds, Exponent: -9, Description: "time polling that did not"),
        new("halt_wait_ns", Unit: StatUnit.Seconds, Exponent: -9, Description: "time blocked in halt"),
        new("blocking", StatKind.Instant, StatUnit.Boolean, Description: "1 while the vCPU is blocked"),
    ];
}

/// <summary>
/// The statistics every VM keeps (docs/kvm-semantics.md#statistics), at fixed indexes; architectures append
/// theirs.
/// </summary>
public static class VmStat
{
    /// <summary><c>remote_tlb_flush</c>.</summary>
    public const int RemoteTlbFlush = 0;

    /// <summary><c>remote_tlb_flush_requests</c>.</summary>
    public const int RemoteTlbFlushRequests = 1;

    /// <summary>The number of generic VM statistics.</summary>
    public const int Count = 2;

    /// <summary>The generic descriptors, in index order.</summary>
    public static IReadOnlyList<StatDescriptor> Descriptors { get; } =
    [
        new("remote_tlb_flush", Description: "TLB flushes sent to all vCPUs"),
        new("remote_tlb_flush_requests", Description: "requests to flush all vCPUs' TLBs, merged ones included"),
    ];
}

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Debug events the hypervisor owns (what KVM programs for KVM_SET_GUEST_DEBUG with MDCR_EL2.TDE and its own
/// MDSCR_EL1/DBG*_EL1 values): BRK instructions that trap to EL2 instead of the guest, and breakpoints and
/// watchpoints of the host's that replace the guest's own while they are installed. Such an event is
/// reported as <see cref="CpuExit.Debug"/> with an ESR_EL2-style syndrome in <see cref="Trap"/> (EC 0x30
/// breakpoint, 0x34 watchpoint with FAR, 0x3C BRK; PC at the instruction), and debug exceptions that
/// target EL2 are enabled at EL0 and EL1 whatever MDSCR_EL1.KDE and PSTATE.D say (Arm ARM D2.1). Host
/// single-step is the hypervisor's (one instruction per <see cref="Run"/>, budget 1); while it is on, the
/// guest's own software step is not taken, as KVM hides the guest's MDSCR_EL1.SS then. While the host blocks
/// interrupts, IRQ and FIQ are not taken whatever PSTATE.I and F say (they stay pending, ISR_EL1 shows them,
/// WFI still wakes on them), so that a host step runs the next instruction of the code being stepped.
/// </summary>
public sealed partial class Arm64Cpu
{
    private bool _hostSingleStep;
    private bool _hostBlocksInterrupts;
    private bool _hostBrk;
    private bool _hostHardware;
    private DebugRegisterFile _hostBvr;
    private DebugRegisterFile _hostBcr;
    private DebugRegisterFile _hostWvr;
    private DebugRegisterFile _hostWcr;

    /// <summary>
    /// The one condition every execution engine must honour (docs/kvm-semantics.md#arm64-guest-debug): while
    /// true, no translated code may run and every instruction goes through the interpreter's fetch
    /// (<c>FetchHost</c>, which checks breakpoints) and handlers (<c>Brk</c> traps to the host); data accesses
    /// take the slow path (the TLB is not filled while watchpoints are armed). True while host single-step,
    /// host breakpoints, or the guest's own breakpoints are active.
    /// </summary>
    public bool DebugInterpretOnly { get; private set; }

    /// <summary>
    /// Installs the hypervisor's debug settings (KVM_SET_GUEST_DEBUG's flags and <c>kvm_guest_debug_arch</c>).
    /// <paramref name="breakpoints"/> and <paramref name="watchpoints"/> are (value, control) pairs in
    /// DBGBVR/DBGBCR and DBGWVR/DBGWCR format, at most <see cref="HardwareBreakpoints"/> and
    /// <see cref="HardwareWatchpoints"/>; with <paramref name="hardware"/> false the guest's own registers are active.
    /// With <paramref name="blockInterrupts"/> the PE takes no IRQ or FIQ until the host lets it again.
    /// </summary>
    public void SetHostDebug(bool singleStep, bool trapBrk, bool hardware, ReadOnlySpan<(ulong Value, ulong Control)> breakpoints, ReadOnlySpan<(ulong Value, ulong Control)> watchpoints, bool blockInterrupts)
    {
        if (breakpoints.Length > BreakpointCount || watchpoints.Length > WatchpointCount)
        {
            throw new ArgumentException($"the PE has {BreakpointCount} breakpoints and {WatchpointCount} watchpoints");
        }

        _hostSingleStep = singleStep;
        _hostBlocksInterrupts = blockInterrupts;
        _hostBrk = trapBrk;
        _hostHardware = hardware;
        _hostBvr = default;
        _hostBcr = default;
        _hostWvr = default;
        _hostWcr = default;
        for (int i = 0; i < breakpoints.Length; i++)
        {
            _hostBvr[i] = breakpoints[i].Value & ~3UL;
            _hostBcr[i] = breakpoints[i].Control & 0x00F0_01E7UL;
        }

        for (int i = 0; i < watchpoints.Length; i++)
        {
            _hostWvr[i] = watchpoints[i].Value & ~7UL;
            _hostWcr[i] = watchpoints[i].Control & 0x1F00_1FFFUL;
        }

        RecomputeDebugArming();
        UpdateAttention();
    }

    /// <summary>The breakpoints the PE implements (ID_AA64DFR0_EL1.BRPs + 1).</summary>
    public static int HardwareBreakpoints => BreakpointCount;

    /// <summary>The watchpoints the PE implements (ID_AA64DFR0_EL1.WRPs + 1).</summary>
    public static int HardwareWatchpoints => WatchpointCount;

    /// <summary>Whether a BRK traps to the hypervisor (KVM_GUESTDBG_USE_SW_BP).</summary>
    private bool HostOwnsBrk => _hostBrk;

    /// <summary>Reports a host-owned debug event: <see cref="CpuExit.Debug"/> with the syndrome of <paramref name="ec"/> and <paramref name="iss"/>.</summary>
    private Flow HostDebugTrap(uint ec, uint iss, ulong far = 0)
    {
        Trap.Far = far;
        return TrapToHypervisor(CpuExit.Debug, Esr.Make(ec, iss));
    }
}

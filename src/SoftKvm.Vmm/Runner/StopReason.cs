namespace SoftKvm.Vmm.Runner;

/// <summary>Why a VM run ended.</summary>
public enum StopReason
{
    /// <summary>The guest powered off (PSCI SYSTEM_OFF, KVM_SYSTEM_EVENT_SHUTDOWN). Exit code 0.</summary>
    PowerOff,

    /// <summary>The guest asked for a reset (PSCI SYSTEM_RESET); SoftKvm stops rather than reboots. Exit code 0.</summary>
    Reset,

    /// <summary>A device ended the run with a code (isa-debug-exit: <c>(value &lt;&lt; 1) | 1</c>).</summary>
    DeviceExit,

    /// <summary>An internal error, an exit the VMM cannot handle, or a host failure. Exit code 3.</summary>
    InternalError,

    /// <summary>The guest reported a crash (KVM_SYSTEM_EVENT_CRASH). Exit code 3.</summary>
    Crash,

    /// <summary>The user interrupted the run (Ctrl-C). Exit code 130.</summary>
    Cancelled,

    /// <summary>Every vCPU thread ended without a stop request.</summary>
    AllVcpusEnded,

    /// <summary>The attached debugger killed the VM (gdb's <c>k</c>). Exit code 0.</summary>
    KilledByDebugger,

    /// <summary>The guest ended the run with a code through a call to the VMM (Arm semihosting SYS_EXIT, SYS_EXIT_EXTENDED).</summary>
    GuestExit,

    /// <summary>
    /// The guest stopped through a call to the VMM with a reason other than a normal exit (an Arm semihosting
    /// <c>ADP_Stopped_*</c> other than ApplicationExit). Exit code 1, with a line naming the reason.
    /// </summary>
    GuestStoppedAbnormally,

    /// <summary>A snapshot was asked for (<c>--snapshot-on-output</c>, Ctrl-A s): every vCPU stopped between runs, to be saved.</summary>
    Snapshot,
}

namespace SoftKvm.Core.Run;

/// <summary><c>KVM_INTERNAL_ERROR_*</c> sub-errors of <see cref="ExitReason.InternalError"/>.</summary>
public enum InternalErrorSuberror : uint
{
    /// <summary>No sub-error set.</summary>
    None = 0,

    /// <summary>The instruction emulator failed (an instruction it does not handle).</summary>
    Emulation = 1,

    /// <summary>A simultaneous exception.</summary>
    SimultaneousException = 2,

    /// <summary>An event could not be delivered.</summary>
    DeliveryEvent = 3,

    /// <summary>An exit the hypervisor does not expect.</summary>
    UnexpectedExitReason = 4,
}

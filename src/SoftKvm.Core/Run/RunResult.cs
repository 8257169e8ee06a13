namespace SoftKvm.Core.Run;

/// <summary>
/// The return value of <see cref="Vcpu.Run"/>; the values are those of the <c>KVM_RUN</c> ioctl
/// (0 or a negative errno), docs/kvm-semantics.md#run-contract.
/// </summary>
public enum RunResult
{
    /// <summary>0: <see cref="RunState.ExitReason"/> says what the VMM must do.</summary>
    Ok = 0,

    /// <summary>-EPERM: the vCPU is not finalised.</summary>
    NotFinalized = -1,

    /// <summary>
    /// -EINTR: a kick stopped the loop (exit reason <see cref="ExitReason.Intr"/>), or
    /// <see cref="RunState.ImmediateExit"/> was set (exit reason left as it was).
    /// </summary>
    Interrupted = -4,

    /// <summary>-ENXIO: a device the vCPU needs is not configured (for example no GICv3 redistributor).</summary>
    NoDevice = -6,

    /// <summary>-ENOEXEC: the vCPU was never initialised.</summary>
    NotInitialized = -8,

    /// <summary>-ENOSYS: arm64 data abort without a valid syndrome while NISV exits are off.</summary>
    NoSyndrome = -38,
}

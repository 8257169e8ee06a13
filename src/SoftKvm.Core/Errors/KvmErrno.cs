namespace SoftKvm.Core.Errors;

/// <summary>
/// The errno a KVM ioctl fails with (the ioctl returns its negation), for the refusals SoftKvm reports as
/// a <see cref="SoftKvmException"/>: <see cref="SoftKvmException.Errno"/> says which one KVM would give.
/// </summary>
public enum KvmErrno
{
    /// <summary>No errno given (an error KVM has no counterpart of, or one not yet classified).</summary>
    None = 0,

    /// <summary>ENXIO (6): a device the request needs is not configured.</summary>
    NoDevice = 6,

    /// <summary>E2BIG (7): more of something than the device supports (for example vCPUs for a GIC model).</summary>
    TooBig = 7,

    /// <summary>EBUSY (16): not now (for example a vCPU created after the in-kernel GIC is initialised).</summary>
    Busy = 16,

    /// <summary>EEXIST (17): it exists already (for example a second in-kernel GIC).</summary>
    Exists = 17,

    /// <summary>EINVAL (22): an invalid argument (for example a vCPU id the GIC cannot target, an illegal PSTATE mode).</summary>
    InvalidArgument = 22,
}

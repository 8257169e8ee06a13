namespace SoftKvm.Core.Io;

/// <summary>
/// What a message-signalled interrupt came to, with the values <c>KVM_SIGNAL_MSI</c> returns: positive when
/// delivered, 0 when the guest blocked it (nothing maps it, or it is masked), a negative errno when it could
/// not be signalled at all.
/// </summary>
public enum MsiResult
{
    /// <summary>Delivered (1).</summary>
    Delivered = 1,

    /// <summary>Blocked by the guest's configuration (0): for example no translation maps the DeviceID and EventID.</summary>
    Blocked = 0,

    /// <summary>-EBUSY: the MSI controller or the target is disabled (an ITS not enabled, LPIs off at the redistributor).</summary>
    Busy = -16,

    /// <summary>-ENODEV: the VM has no MSI controller.</summary>
    NoController = -19,

    /// <summary>-EINVAL: the address is no MSI controller's doorbell.</summary>
    InvalidAddress = -22,
}

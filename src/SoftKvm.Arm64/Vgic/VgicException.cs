using SoftKvm.Core.Errors;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// A VGIC configuration error (KVM's -EINVAL, -E2BIG, -EEXIST, -ENXIO, -EBUSY on the VGIC device):
/// unknown model, too many vCPUs, a bad or missing base address, overlapping frames, init with vCPUs
/// missing. The message is one line.
/// </summary>
public sealed class VgicException(string message, KvmErrno errno = KvmErrno.None) : SoftKvmException(message, errno);

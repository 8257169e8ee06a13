namespace SoftKvm.Core.Errors;

/// <summary>
/// Base of the host-side and configuration errors of SoftKvm: typed, with a one-line message that the
/// command line prints as it is (exit code 2). Guest-architectural events are never exceptions.
/// </summary>
public class SoftKvmException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public SoftKvmException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and its cause.</summary>
    public SoftKvmException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with a one-line message and the errno KVM fails the same request with.</summary>
    public SoftKvmException(string message, KvmErrno errno) : base(message)
    {
        Errno = errno;
    }

    /// <summary>The errno KVM's ioctl fails with for the same request (<see cref="KvmErrno.None"/> when not given).</summary>
    public KvmErrno Errno { get; }
}

/// <summary>A memory slot request is wrong: zero size, misaligned, overlapping, or out of range.</summary>
public sealed class MemoryLayoutException(string message) : SoftKvmException(message);

/// <summary>A request names a memory slot that does not exist.</summary>
public sealed class UnknownSlotException(int slot) : SoftKvmException($"memory slot {slot} does not exist")
{
    /// <summary>The slot id that was asked for.</summary>
    public int Slot { get; } = slot;
}

/// <summary>An IO bus registration is wrong: empty range, wrap-around, overlap, or unknown device.</summary>
public sealed class IoBusException(string message) : SoftKvmException(message);

/// <summary>A vCPU request is wrong: duplicate id, id out of range, a refused register value, or a run from two threads.</summary>
public sealed class VcpuException(string message, KvmErrno errno = KvmErrno.None) : SoftKvmException(message, errno);

/// <summary>A guest-physical access by the VMM touched an address no memory slot backs.</summary>
public sealed class GuestMemoryAccessException(string message) : SoftKvmException(message);

/// <summary>A feature was asked for that SoftKvm does not implement; the message names it.</summary>
public sealed class UnsupportedException(string message) : SoftKvmException(message);

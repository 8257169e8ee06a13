using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Io;

/// <summary>
/// An ioeventfd: a guest write to <see cref="Address"/> signals <see cref="Signal"/> and completes
/// without leaving guest execution. <see cref="Length"/> 0 matches a write of any length at that
/// address (KVM's fast-MMIO case, where the hypervisor need not even decode the instruction);
/// otherwise the write must have exactly that length. With <see cref="DataMatch"/> set, only a write
/// of that value matches.
/// </summary>
public sealed class IoEvent
{
    /// <summary>Creates an ioeventfd.</summary>
    /// <exception cref="IoBusException">the length is not 0, 1, 2, 4 or 8, or a data match has length 0.</exception>
    public IoEvent(ulong address, uint length, EventFd signal, ulong? dataMatch = null)
    {
        if (length is not (0 or 1 or 2 or 4 or 8))
        {
            throw new IoBusException($"ioevent at 0x{address:x}: length {length} is not 0, 1, 2, 4 or 8");
        }

        if (length == 0 && dataMatch is not null)
        {
            throw new IoBusException($"ioevent at 0x{address:x}: a data match needs a length");
        }

        if (length != 0 && address + length - 1 < address)
        {
            throw new IoBusException($"ioevent at 0x{address:x} length {length} wraps the address space");
        }

        Address = address;
        Length = length;
        Signal = signal;
        DataMatch = dataMatch;
    }

    /// <summary>The bus address.</summary>
    public ulong Address { get; }

    /// <summary>The access length that matches, or 0 for any length.</summary>
    public uint Length { get; }

    /// <summary>The value a write must carry to match, or null for any value.</summary>
    public ulong? DataMatch { get; }

    /// <summary>What a matching write signals.</summary>
    public EventFd Signal { get; }

    /// <summary>Whether a write of <paramref name="data"/> at <paramref name="address"/> matches.</summary>
    public bool Matches(ulong address, ReadOnlySpan<byte> data)
    {
        if (address != Address)
        {
            return false;
        }

        if (Length == 0)
        {
            return true;
        }

        if (data.Length != Length)
        {
            return false;
        }

        if (DataMatch is not ulong match)
        {
            return true;
        }

        ulong value = BusData.ToUInt64(data);
        return value == match;
    }

    internal bool SameAs(IoEvent other) =>
        other.Address == Address && other.Length == Length && other.DataMatch == DataMatch;
}

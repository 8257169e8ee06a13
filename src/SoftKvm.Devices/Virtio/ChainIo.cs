using SoftKvm.Core.Memory;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// Copies between a descriptor chain and the device, treating the device-readable descriptors as one
/// byte stream and the device-writable ones as another (virtio 1.2 section 2.7.4). Host spans come from
/// the memory slots directly; a buffer that no slot backs is a driver error.
/// </summary>
internal static unsafe class ChainIo
{
    /// <summary>The total length of the readable (<paramref name="writable"/> false) or writable buffers.</summary>
    public static long Length(ReadOnlySpan<VirtqDescriptor> chain, bool writable)
    {
        long total = 0;
        foreach (var d in chain)
        {
            if (d.IsWriteOnly == writable)
            {
                total += d.Length;
            }
        }

        return total;
    }

    /// <summary>
    /// The host bytes of guest range [address, address+length) that one slot holds, from its start (at
    /// most <paramref name="length"/> bytes). A write lookup marks the pages dirty.
    /// </summary>
    public static Span<byte> HostSpan(GuestMemory memory, ulong address, long length, bool write)
    {
        byte* p = memory.TryGetHostPointer(address, write, out ulong available);
        if (p == null)
        {
            throw new VirtqueueException($"buffer at 0x{address:x} is not in guest memory");
        }

        long n = (long)Math.Min((ulong)length, Math.Min(available, int.MaxValue));
        if (write)
        {
            // TryGetHostPointer marks only the first page; mark the whole range for dirty logging.
            var slot = memory.FindSlot(address);
            slot?.MarkDirty(address - slot.GuestPhysBase.Value, (ulong)n);
        }

        return new Span<byte>(p, (int)n);
    }

    /// <summary>Copies readable bytes, starting <paramref name="skip"/> bytes into the readable stream, into <paramref name="destination"/>; returns the count.</summary>
    public static int Read(GuestMemory memory, ReadOnlySpan<VirtqDescriptor> chain, long skip, Span<byte> destination) =>
        Transfer(memory, chain, false, skip, destination, default);

    /// <summary>Copies <paramref name="source"/> into the writable stream starting <paramref name="skip"/> bytes in; returns the count.</summary>
    public static int Write(GuestMemory memory, ReadOnlySpan<VirtqDescriptor> chain, long skip, ReadOnlySpan<byte> source) =>
        Transfer(memory, chain, true, skip, default, source);

    private static int Transfer(GuestMemory memory, ReadOnlySpan<VirtqDescriptor> chain, bool writable, long skip, Span<byte> into, ReadOnlySpan<byte> from)
    {
        int want = writable ? from.Length : into.Length;
        int done = 0;
        foreach (var d in chain)
        {
            if (d.IsWriteOnly != writable)
            {
                continue;
            }

            if (skip >= d.Length)
            {
                skip -= d.Length;
                continue;
            }

            ulong address = d.Address + (ulong)skip;
            long left = d.Length - skip;
            skip = 0;
            while (left > 0 && done < want)
            {
                var host = HostSpan(memory, address, Math.Min(left, want - done), writable);
                if (writable)
                {
                    from.Slice(done, host.Length).CopyTo(host);
                }
                else
                {
                    host.CopyTo(into.Slice(done, host.Length));
                }

                done += host.Length;
                address += (ulong)host.Length;
                left -= host.Length;
            }

            if (done == want)
            {
                break;
            }
        }

        return done;
    }
}

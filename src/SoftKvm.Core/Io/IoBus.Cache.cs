using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftKvm.Core.Io;

/// <summary>
/// The look-up of one caller remembered (issue 19): a vCPU that accesses the same device again and again (a driver
/// polling a status register, a benchmark's round trips) finds it, or finds that no device is there, with one compare of
/// the bus's state and a range test instead of the binary search. The cache holds the bus's immutable snapshot it was
/// filled from; any registration or unregistration publishes a new snapshot, so a stale entry never matches. Writes use
/// it only while the bus has no ioeventfd and no coalesced zone (those are offered a write before any device).
/// </summary>
public sealed partial class IoBus
{
    /// <summary>
    /// <see cref="Read(Vcpu?, ulong, Span{byte})"/> through <paramref name="cache"/>: the same result, the device (or the
    /// gap with no device) the address fell in last time taken from the cache while the bus is unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Read(Vcpu? vcpu, ulong address, Span<byte> data, ref IoBusCache cache)
    {
        if (Remembered(ref cache, address, data.Length) is not { } device)
        {
            return false;
        }

        device.Read(vcpu, address - cache.Start, data);
        return true;
    }

    /// <summary>
    /// <see cref="Write(Vcpu?, ulong, ReadOnlySpan{byte})"/> through <paramref name="cache"/>: while the bus has no
    /// ioeventfd and no coalesced zone, the device (or gap) from the cache as for a read; else the uncached write.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Write(Vcpu? vcpu, ulong address, ReadOnlySpan<byte> data, ref IoBusCache cache)
    {
        if (WritesSeenBeforeDevices)
        {
            return Write(vcpu, address, data);
        }

        if (Remembered(ref cache, address, data.Length) is not { } device)
        {
            return false;
        }

        device.Write(vcpu, address - cache.Start, data);
        return true;
    }

    /// <summary>
    /// <see cref="Read(Vcpu?, ulong, Span{byte}, ref IoBusCache)"/> of a CPU access of <paramref name="size"/> (1, 2, 4 or 8)
    /// bytes as a value: the bytes little-endian and zero-extended in <paramref name="value"/> (0 when false). A device that
    /// is an <see cref="IIoValueDevice"/> (the GIC's frames) is called without a span (issue 19: a vCPU's in-kernel MMIO exit).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool TryReadValue(Vcpu? vcpu, ulong address, int size, ref IoBusCache cache, out ulong value)
    {
        if (Remembered(ref cache, address, size) is not { } device)
        {
            value = 0;
            return false;
        }

        ulong offset = address - cache.Start;
        if (cache.ValueDevice is { } valueDevice)
        {
            value = valueDevice.ReadValue(vcpu, offset, size);
            return true;
        }

        ulong buffer = 0;
        device.Read(vcpu, offset, MemoryMarshal.CreateSpan(ref Unsafe.As<ulong, byte>(ref buffer), size));
        value = size switch // read back at the width the device wrote (a narrower store forwards to this load)
        {
            1 => Unsafe.As<ulong, byte>(ref buffer),
            2 => Unsafe.As<ulong, ushort>(ref buffer),
            4 => Unsafe.As<ulong, uint>(ref buffer),
            _ => buffer,
        };
        return true;
    }

    /// <summary>
    /// <see cref="Write(Vcpu?, ulong, ReadOnlySpan{byte}, ref IoBusCache)"/> of a CPU access of the low <paramref name="size"/>
    /// (1, 2, 4 or 8) bytes of <paramref name="value"/>: ioeventfds and coalesced zones first, as there; an
    /// <see cref="IIoValueDevice"/> gets the value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool TryWriteValue(Vcpu? vcpu, ulong address, int size, ulong value, ref IoBusCache cache)
    {
        var data = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<ulong, byte>(ref value), size);
        if (WritesSeenBeforeDevices)
        {
            return Write(vcpu, address, data);
        }

        if (Remembered(ref cache, address, size) is not { } device)
        {
            return false;
        }

        if (cache.ValueDevice is { } valueDevice)
        {
            valueDevice.WriteValue(vcpu, address - cache.Start, size, value);
        }
        else
        {
            device.Write(vcpu, address - cache.Start, data);
        }

        return true;
    }

    /// <summary>Whether a write is offered to an ioeventfd or a coalesced zone before any device (the uncached <see cref="Write(Vcpu?, ulong, ReadOnlySpan{byte})"/> takes it then).</summary>
    private bool WritesSeenBeforeDevices
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // every cached write; NativeAOT left it a call (4% of the x86-64 VMM OUT row)
        get => Volatile.Read(ref _ioEvents).Length != 0 || Volatile.Read(ref _coalescedZones).Length != 0;
    }

    /// <summary>The device that holds the access (null: none does), from <paramref name="cache"/>, filled first when it does not answer for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private IIoDevice? Remembered(ref IoBusCache cache, ulong address, int length)
    {
        if (!cache.Holds(Volatile.Read(ref _snapshot), address, length))
        {
            Fill(ref cache, address, length);
        }

        return cache.Device;
    }

    /// <summary>
    /// Fills <paramref name="cache"/> for an access of <paramref name="length"/> bytes at <paramref name="address"/>: the
    /// device range that holds all of it, else the gap between devices that holds all of it (a miss); an access that
    /// straddles a range's edge is a miss (as <see cref="TryFind"/> says) that the entry does not remember.
    /// </summary>
    private void Fill(ref IoBusCache cache, ulong address, int length)
    {
        var s = Volatile.Read(ref _snapshot);
        cache.Snapshot = null; // matches nothing unless filled below
        cache.Device = null;
        cache.ValueDevice = null;
        ulong last = address + (ulong)length - 1;
        if (length <= 0 || last < address)
        {
            return;
        }

        int i = UpperBound(s.Starts, address) - 1;
        if (i >= 0 && address <= s.Lasts[i])
        {
            if (last <= s.Lasts[i])
            {
                cache.Snapshot = s;
                cache.Device = s.Devices[i];
                cache.ValueDevice = s.Devices[i] as IIoValueDevice;
                cache.Start = s.Starts[i];
                cache.Last = s.Lasts[i];
            }

            return; // else it straddles the range's end: a miss for this access alone, not remembered
        }

        // No device holds the address: the gap after range i (or from 0) up to the next range, if the access fits in it.
        ulong gapLast = i + 1 < s.Starts.Length ? s.Starts[i + 1] - 1 : ulong.MaxValue;
        if (last <= gapLast)
        {
            cache.Snapshot = s;
            cache.Start = i >= 0 ? s.Lasts[i] + 1 : 0;
            cache.Last = gapLast;
        }
    }
}

/// <summary>
/// One caller's remembered look-up on an <see cref="IoBus"/> (<see cref="IoBus.Read(Vcpu?, ulong, Span{byte}, ref IoBusCache)"/>):
/// the device range, or the gap without a device, that the last access fell in, and the bus state it is valid for. Keep one
/// per vCPU and bus, used by one thread at a time; <c>default</c> is empty.
/// </summary>
public struct IoBusCache
{
    internal object? Snapshot;
    internal IIoDevice? Device;
    internal IIoValueDevice? ValueDevice; // Device when it serves values (TryReadValue, TryWriteValue), else null
    internal ulong Start;
    internal ulong Last;

    /// <summary>Whether the entry answers for an access of <paramref name="length"/> bytes at <paramref name="address"/> on the bus state <paramref name="snapshot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal readonly bool Holds(object snapshot, ulong address, int length) =>
        ReferenceEquals(Snapshot, snapshot) && address >= Start && address <= Last && length > 0 && Last - address >= (ulong)length - 1;
}

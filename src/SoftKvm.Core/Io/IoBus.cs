using System.Runtime.CompilerServices;
using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Io;

/// <summary>
/// An IO bus (KVM's <c>kvm_io_bus</c>): devices registered on non-overlapping address ranges, plus
/// ioeventfds and coalesced-MMIO zones. An access is dispatched to a device only when it lies
/// entirely inside that device's range; otherwise nothing handles it and the caller exits to the
/// VMM. Lookup is a binary search over a sorted, immutable snapshot, so vCPU threads read the bus
/// without locks while the VMM registers and unregisters; there is no fixed capacity.
/// </summary>
public sealed partial class IoBus
{
    private readonly object _writeLock = new();
    private Snapshot _snapshot = Snapshot.Empty;
    private IoEvent[] _ioEvents = [];
    private (ulong Start, ulong Last)[] _coalescedZones = [];

    /// <summary>
    /// Creates a bus of addresses of <paramref name="kind"/>; <paramref name="name"/> appears in messages
    /// (by default "mmio" or "pio").
    /// </summary>
    public IoBus(IoBusKind kind, string? name = null, CoalescedMmioRing? ring = null)
    {
        Kind = kind;
        Name = name ?? (kind == IoBusKind.Pio ? "pio" : "mmio");
        CoalescedRing = ring ?? new CoalescedMmioRing();
    }

    /// <summary>Whether the bus holds memory-mapped IO or ports.</summary>
    public IoBusKind Kind { get; }

    /// <summary>The bus name in messages ("mmio", "pio", "user-mmio", ...).</summary>
    public string Name { get; }

    /// <summary>Where writes to coalesced zones are buffered.</summary>
    public CoalescedMmioRing CoalescedRing { get; }

    /// <summary>The number of device ranges registered.</summary>
    public int Count => Volatile.Read(ref _snapshot).Devices.Length;

    /// <summary>The number of ioeventfds registered.</summary>
    public int IoEventCount => Volatile.Read(ref _ioEvents).Length;

    /// <summary>Registers <paramref name="device"/> on [address, address+length).</summary>
    /// <exception cref="IoBusException">empty range, wrap-around, or overlap with a registered range.</exception>
    public void Register(ulong address, ulong length, IIoDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (length == 0)
        {
            throw new IoBusException($"{Name} bus: device range at 0x{address:x} has length 0");
        }

        ulong last = address + length - 1;
        if (last < address)
        {
            throw new IoBusException($"{Name} bus: device range at 0x{address:x} length 0x{length:x} wraps the address space");
        }

        lock (_writeLock)
        {
            var s = _snapshot;
            int i = UpperBound(s.Starts, last); // first range starting after our last byte
            if (i > 0 && s.Lasts[i - 1] >= address)
            {
                throw new IoBusException(
                    $"{Name} bus: device range [0x{address:x}..0x{last:x}] overlaps [0x{s.Starts[i - 1]:x}..0x{s.Lasts[i - 1]:x}]");
            }

            Volatile.Write(ref _snapshot, s.Insert(i, address, last, device));
            AdvanceGeneration();
        }
    }

    /// <summary>Unregisters every range of <paramref name="device"/>; the other devices stay.</summary>
    /// <exception cref="IoBusException">the device is not registered.</exception>
    public void Unregister(IIoDevice device)
    {
        lock (_writeLock)
        {
            var s = _snapshot;
            var next = s.RemoveAll(device);
            if (next.Devices.Length == s.Devices.Length)
            {
                throw new IoBusException($"{Name} bus: device {device.GetType().Name} is not registered");
            }

            Volatile.Write(ref _snapshot, next);
            AdvanceGeneration();
        }
    }

    /// <summary>
    /// Finds the device whose range holds all of [address, address+length); false when none does,
    /// including an access that straddles the end of a range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFind(ulong address, int length, out IIoDevice device, out ulong offset)
    {
        var s = Volatile.Read(ref _snapshot);
        int i = UpperBound(s.Starts, address) - 1;
        if (i >= 0 && length > 0)
        {
            ulong last = address + (ulong)length - 1;
            if (last >= address && last <= s.Lasts[i])
            {
                device = s.Devices[i];
                offset = address - s.Starts[i];
                return true;
            }
        }

        device = null!;
        offset = 0;
        return false;
    }

    /// <summary>
    /// Offers a write to the bus: an ioeventfd that matches is signalled; else a coalesced zone
    /// buffers it; else a device handles it. False when none did (the access goes to the VMM).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool Write(Vcpu? vcpu, ulong address, ReadOnlySpan<byte> data)
    {
        var events = Volatile.Read(ref _ioEvents);
        if (events.Length != 0)
        {
            foreach (var e in events)
            {
                if (e.Matches(address, data))
                {
                    e.Signal.Signal();
                    return true;
                }
            }
        }

        var zones = Volatile.Read(ref _coalescedZones);
        if (zones.Length != 0)
        {
            ulong last = address + (ulong)data.Length - 1;
            foreach (var (start, zoneLast) in zones)
            {
                if (address >= start && last <= zoneLast && CoalescedRing.TryAppend(address, data, Kind == IoBusKind.Pio))
                {
                    return true;
                }
            }
        }

        if (TryFind(address, data.Length, out var device, out ulong offset))
        {
            device.Write(vcpu, offset, data);
            return true;
        }

        return false;
    }

    /// <summary>Offers a read to the bus; false when no device's range holds it (the access goes to the VMM).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool Read(Vcpu? vcpu, ulong address, Span<byte> data)
    {
        if (TryFind(address, data.Length, out var device, out ulong offset))
        {
            device.Read(vcpu, offset, data);
            return true;
        }

        return false;
    }

    /// <summary>
    /// KVM's fast-MMIO path: signals a zero-length ioeventfd at <paramref name="address"/> without
    /// knowing the access size or data. False when there is none.
    /// </summary>
    public bool TrySignalFastMmio(ulong address)
    {
        foreach (var e in Volatile.Read(ref _ioEvents))
        {
            if (e.Length == 0 && e.Address == address)
            {
                e.Signal.Signal();
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a zero-length ioeventfd is registered at <paramref name="address"/> (what <see cref="TrySignalFastMmio"/> would signal).</summary>
    public bool HasFastMmio(ulong address)
    {
        foreach (var e in Volatile.Read(ref _ioEvents))
        {
            if (e.Length == 0 && e.Address == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Registers an ioeventfd.</summary>
    /// <exception cref="IoBusException">an identical ioeventfd (address, length, data match) exists.</exception>
    public void RegisterIoEvent(IoEvent ioEvent)
    {
        lock (_writeLock)
        {
            foreach (var e in _ioEvents)
            {
                if (e.SameAs(ioEvent))
                {
                    throw new IoBusException($"{Name} bus: an ioevent at 0x{ioEvent.Address:x} length {ioEvent.Length} with that data match exists");
                }
            }

            Volatile.Write(ref _ioEvents, [.. _ioEvents, ioEvent]);
        }
    }

    /// <summary>Unregisters an ioeventfd.</summary>
    /// <exception cref="IoBusException">it is not registered.</exception>
    public void UnregisterIoEvent(IoEvent ioEvent)
    {
        lock (_writeLock)
        {
            int i = Array.IndexOf(_ioEvents, ioEvent);
            if (i < 0)
            {
                throw new IoBusException($"{Name} bus: the ioevent at 0x{ioEvent.Address:x} is not registered");
            }

            Volatile.Write(ref _ioEvents, [.. _ioEvents[..i], .. _ioEvents[(i + 1)..]]);
        }
    }

    /// <summary>Registers a coalesced zone: writes inside it are buffered in <see cref="CoalescedRing"/>.</summary>
    /// <exception cref="IoBusException">empty or wrapping range, or overlap with another zone.</exception>
    public void RegisterCoalescedZone(ulong address, ulong length)
    {
        ulong last = address + length - 1;
        if (length == 0 || last < address)
        {
            throw new IoBusException($"{Name} bus: coalesced zone at 0x{address:x} length 0x{length:x} is empty or wraps");
        }

        lock (_writeLock)
        {
            foreach (var (start, zoneLast) in _coalescedZones)
            {
                if (address <= zoneLast && start <= last)
                {
                    throw new IoBusException($"{Name} bus: coalesced zone at 0x{address:x} overlaps the zone at 0x{start:x}");
                }
            }

            Volatile.Write(ref _coalescedZones, [.. _coalescedZones, (address, last)]);
        }
    }

    /// <summary>Unregisters the coalesced zone that starts at <paramref name="address"/>.</summary>
    public void UnregisterCoalescedZone(ulong address)
    {
        lock (_writeLock)
        {
            var next = Array.FindAll(_coalescedZones, z => z.Start != address);
            if (next.Length == _coalescedZones.Length)
            {
                throw new IoBusException($"{Name} bus: no coalesced zone at 0x{address:x}");
            }

            Volatile.Write(ref _coalescedZones, next);
        }
    }

    // Index of the first element greater than key.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int UpperBound(ulong[] starts, ulong key)
    {
        int lo = 0, hi = starts.Length;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (starts[mid] <= key)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private sealed class Snapshot(ulong[] starts, ulong[] lasts, IIoDevice[] devices)
    {
        public static readonly Snapshot Empty = new([], [], []);

        public readonly ulong[] Starts = starts;
        public readonly ulong[] Lasts = lasts;
        public readonly IIoDevice[] Devices = devices;

        public Snapshot Insert(int i, ulong start, ulong last, IIoDevice device) => new(
            [.. Starts[..i], start, .. Starts[i..]],
            [.. Lasts[..i], last, .. Lasts[i..]],
            [.. Devices[..i], device, .. Devices[i..]]);

        public Snapshot RemoveAll(IIoDevice device)
        {
            var starts = new List<ulong>(Starts.Length);
            var lasts = new List<ulong>(Starts.Length);
            var devices = new List<IIoDevice>(Starts.Length);
            for (int i = 0; i < Devices.Length; i++)
            {
                if (!ReferenceEquals(Devices[i], device))
                {
                    starts.Add(Starts[i]);
                    lasts.Add(Lasts[i]);
                    devices.Add(Devices[i]);
                }
            }

            return new Snapshot([.. starts], [.. lasts], [.. devices]);
        }
    }
}

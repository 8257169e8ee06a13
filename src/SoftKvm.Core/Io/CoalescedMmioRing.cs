namespace SoftKvm.Core.Io;

/// <summary>One buffered write of a coalesced-MMIO zone (KVM's <c>kvm_coalesced_mmio</c>).</summary>
/// <param name="PhysAddr">The bus address written.</param>
/// <param name="Length">The number of valid bytes in <paramref name="Data"/> (1 to 8).</param>
/// <param name="IsPio">Whether the write went to the PIO bus.</param>
/// <param name="Data">The bytes written, little-endian, in the low <paramref name="Length"/> bytes.</param>
public readonly record struct CoalescedMmioEntry(ulong PhysAddr, uint Length, bool IsPio, ulong Data);

/// <summary>
/// The coalesced-MMIO ring: writes to registered zones are appended here instead of exiting, and the
/// VMM drains them later, in order, before it handles the next exit. When the ring is full the write
/// exits to the VMM as an ordinary MMIO exit, as in KVM. Producers are vCPU threads; the consumer
/// is the VMM.
/// </summary>
public sealed class CoalescedMmioRing
{
    /// <summary>KVM's capacity: (4096 - 8) / 32 entries fit in the ring page.</summary>
    public const int DefaultCapacity = 127;

    private readonly object _lock = new();
    private readonly CoalescedMmioEntry[] _entries;
    private int _first;
    private int _count;

    /// <summary>Creates a ring with room for <paramref name="capacity"/> entries.</summary>
    public CoalescedMmioRing(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _entries = new CoalescedMmioEntry[capacity];
    }

    /// <summary>The number of entries waiting.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Appends a write; false when the ring is full (the write must then exit).</summary>
    public bool TryAppend(ulong address, ReadOnlySpan<byte> data, bool isPio)
    {
        if (data.Length is 0 or > 8)
        {
            return false;
        }

        ulong value = BusData.ToUInt64(data);

        lock (_lock)
        {
            if (_count == _entries.Length)
            {
                return false;
            }

            _entries[(_first + _count) % _entries.Length] = new CoalescedMmioEntry(address, (uint)data.Length, isPio, value);
            _count++;
            return true;
        }
    }

    /// <summary>Removes the oldest entry; false when the ring is empty.</summary>
    public bool TryDequeue(out CoalescedMmioEntry entry)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                entry = default;
                return false;
            }

            entry = _entries[_first];
            _first = (_first + 1) % _entries.Length;
            _count--;
            return true;
        }
    }
}

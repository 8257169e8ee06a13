using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftKvm.Core.Published;

/// <summary>
/// Device registers whose read has no side effect, published by their in-kernel devices as plain values so that a CPU
/// model's generated code reads them without leaving it (issue 19; the x86 PIC's mask registers and IOAPIC's IOWIN, read by
/// native x86-64 blocks, X86Cpu.NativePublished.cs). A block's port read or load from a published guest-physical address
/// takes the value and counts the exit as the hypervisor's fast path would; anything not published (another size, a
/// retracted value, a slot another register holds) takes the ordinary exit path.
/// <para>
/// Each register has its own slot (<see cref="ClaimPort"/>, <see cref="ClaimMmio"/>: a slot is never shared, so one
/// writer, the device under its lock, ever writes it). An entry is a key and a value; a reader reads the key, the value,
/// the key again and takes the value only when both reads of the key are the one it wants (the host's stores and loads
/// are each in program order: a value read between two reads of its key was published under that key). A device
/// retracts its value (<see cref="PublishedRead.Retract"/>) before it changes what the read returns and publishes the
/// new one after, so a reader sees the old value only before the change and the new one only after it.
/// </para>
/// </summary>
public sealed unsafe class PublishedReads
{
    /// <summary>Slots per table (ports and guest-physical addresses each); a power of two.</summary>
    internal const int Slots = 64;

    private readonly Entry[] _ports = GC.AllocateArray<Entry>(Slots, pinned: true);
    private readonly Entry[] _mmio = GC.AllocateArray<Entry>(Slots, pinned: true);
    private readonly ulong[] _portOwners = new ulong[Slots];
    private readonly ulong[] _mmioOwners = new ulong[Slots];
    private readonly Lock _claims = new();
    private ulong[] _mmioPages = [];
    private ulong _mmioPageLow = ulong.MaxValue;
    private ulong _mmioPageHigh;

    /// <summary>One published register: its key (0: nothing published) and its value, zero-extended from the access's size.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Entry
    {
        public ulong Key;
        public ulong Value;
    }

    /// <summary>Creates empty tables.</summary>
    public PublishedReads()
    {
        PortTable = (Entry*)Unsafe.AsPointer(ref _ports[0]);
        MmioTable = (Entry*)Unsafe.AsPointer(ref _mmio[0]);
    }

    /// <summary>The port table, for native blocks (pinned for this object's life).</summary>
    internal Entry* PortTable { get; }

    /// <summary>The guest-physical address table, for native blocks (pinned for this object's life).</summary>
    internal Entry* MmioTable { get; }

    /// <summary>The key of an IN of <paramref name="size"/> bytes from <paramref name="port"/> (never 0; below 2^24).</summary>
    internal static ulong PortKey(ushort port, int size) => 1UL | ((ulong)size << 1) | ((ulong)port << 8);

    /// <summary>The slot of <paramref name="port"/> (its low six bits and the next six: the PIC's 0x21 and 0xA1 differ).</summary>
    internal static int PortSlot(ushort port) => (port ^ (port >> 6)) & (Slots - 1);

    /// <summary>The key of a load of <paramref name="size"/> bytes from <paramref name="gpa"/> (never 0).</summary>
    internal static ulong MmioKey(ulong gpa, int size) => (gpa << 4) | (uint)size;

    /// <summary>The slot of <paramref name="gpa"/>.</summary>
    internal static int MmioSlot(ulong gpa) => (int)(gpa >> 2) & (Slots - 1);

    /// <summary>The value published for a read of <paramref name="size"/> bytes from <paramref name="port"/>, as generated code reads it.</summary>
    public bool TryReadPort(ushort port, int size, out ulong value) => TryRead(PortTable + PortSlot(port), PortKey(port, size), out value);

    /// <summary>The value published for a load of <paramref name="size"/> bytes from guest-physical <paramref name="gpa"/>, as generated code reads it.</summary>
    public bool TryReadMmio(ulong gpa, int size, out ulong value) => TryRead(MmioTable + MmioSlot(gpa), MmioKey(gpa, size), out value);

    private static bool TryRead(Entry* e, ulong key, out ulong value)
    {
        ulong before = Volatile.Read(ref e->Key);
        value = Volatile.Read(ref e->Value);
        if (before != key || Volatile.Read(ref e->Key) != key)
        {
            value = 0;
            return false;
        }

        return true;
    }

    /// <summary>
    /// The slot of an IN of <paramref name="size"/> (1, 2 or 4) bytes from <paramref name="port"/>, for its device to publish
    /// in; null when another register holds the slot (that register's reads then take the exit helper, as unpublished).
    /// </summary>
    public PublishedRead? ClaimPort(ushort port, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(size is 1 or 2 or 4, true, nameof(size));
        return Claim(_portOwners, _ports, PortSlot(port), PortKey(port, size));
    }

    /// <summary>
    /// The slot of a load of <paramref name="size"/> (1, 2, 4 or 8) bytes from guest-physical <paramref name="gpa"/> (an
    /// in-kernel device's register), for its device to publish in; null when another register holds the slot.
    /// </summary>
    public PublishedRead? ClaimMmio(ulong gpa, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(size is 1 or 2 or 4 or 8, true, nameof(size));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(gpa, (1UL << 52) - 1);
        ArgumentOutOfRangeException.ThrowIfNotEqual(gpa & (ulong)(size - 1), 0UL, nameof(gpa));
        var claimed = Claim(_mmioOwners, _mmio, MmioSlot(gpa), MmioKey(gpa, size));
        if (claimed is not null)
        {
            lock (_claims)
            {
                ulong page = gpa & ~0xFFFUL;
                if (Array.IndexOf(_mmioPages, page) < 0)
                {
                    _mmioPages = [.. _mmioPages, page];
                    _mmioPageLow = Math.Min(_mmioPageLow, page);
                    _mmioPageHigh = Math.Max(_mmioPageHigh, page);
                }
            }
        }

        return claimed;
    }

    /// <summary>Whether a register of guest-physical page <paramref name="page"/> is published (the local APIC's page, which
    /// the vCPU serves before the bus, must not be: the native blocks then read no published MMIO).</summary>
    internal bool PublishesMmioPage(ulong page)
    {
        if (page < _mmioPageLow || page > _mmioPageHigh)
        {
            return false; // (every native run asks: the local APIC's page 0xFEE00000 is above the IOAPIC's)
        }

        foreach (ulong p in _mmioPages)
        {
            if (p == page)
            {
                return true;
            }
        }

        return false;
    }

    private PublishedRead? Claim(ulong[] owners, Entry[] table, int slot, ulong key)
    {
        lock (_claims)
        {
            if (owners[slot] != 0)
            {
                return null;
            }

            owners[slot] = key;
        }

        return new PublishedRead(this, (Entry*)Unsafe.AsPointer(ref table[slot]), key);
    }
}

/// <summary>
/// One register's slot of <see cref="PublishedReads"/>: its device publishes the value a read returns and retracts it
/// around any change of it, always under the device's own lock (one writer).
/// </summary>
public sealed unsafe class PublishedRead
{
    private readonly PublishedReads _table; // (keeps the pinned table, which _entry points into, alive)
    private readonly PublishedReads.Entry* _entry;
    private readonly ulong _key;

    internal PublishedRead(PublishedReads table, PublishedReads.Entry* entry, ulong key)
    {
        _table = table;
        _entry = entry;
        _key = key;
    }

    /// <summary>Whether a value is published now.</summary>
    public bool IsPublished => Volatile.Read(ref _entry->Key) == _key;

    /// <summary>The value published (meaningful while <see cref="IsPublished"/>).</summary>
    public ulong Value => Volatile.Read(ref _entry->Value);

    /// <summary>Publishes <paramref name="value"/> (zero-extended, as the read returns it): the key cleared, the value, the key.</summary>
    public void Publish(ulong value)
    {
        Volatile.Write(ref _entry->Key, 0);
        Volatile.Write(ref _entry->Value, value);
        Volatile.Write(ref _entry->Key, _key);
        GC.KeepAlive(_table);
    }

    /// <summary>Takes the value back: reads take the exit helper until the next <see cref="Publish"/>.</summary>
    public void Retract() => Volatile.Write(ref _entry->Key, 0);
}

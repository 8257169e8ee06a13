using System.Buffers.Binary;
using SoftKvm.Core.Memory;

namespace SoftKvm.Core.Snapshots;

/// <summary>
/// Guest memory in a snapshot: one streamed section <c>MEM </c> per memory slot, holding the slot's id,
/// base, size and flags, a bitmap of its pages that are not all zero (bit n of u64 word n / 64), zero bytes
/// up to the next 4 KiB boundary of the file, then those pages in address order. Zero pages cost one bit; a
/// restored slot starts zeroed (its memory is allocated zero-filled), so only the listed pages are put there:
/// mapped copy-on-write from the file where the host allows (<see cref="SnapshotReader.TryMapLarge"/>: each
/// run of pages is page-aligned in the file), else read.
/// </summary>
public static unsafe class GuestMemorySnapshot
{
    private const string Tag = "MEM ";
    private const int SlotHeaderSize = 4 + 8 + 8 + 4;
    private const int PageSize = (int)GuestMemory.PageSize;

    // More runs than this in one slot are read rather than mapped: each mapping is a host VMA (Linux allows 65530 by default).
    private const int MaxMappedRuns = 16384;

    /// <summary>Writes every slot of <paramref name="memory"/> (the guest must not run meanwhile).</summary>
    public static void Save(GuestMemory memory, SnapshotWriter writer)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(writer);
        var slots = memory.Slots;
        var count = writer.BeginSection("MEMS");
        count.Write(slots.Count);
        writer.EndSection();
        foreach (var slot in slots)
        {
            SaveSlot(slot, writer);
        }
    }

    /// <summary>
    /// Reads the slots into <paramref name="memory"/>, whose slots must be the same (ids, bases, sizes)
    /// and still zero-filled.
    /// </summary>
    /// <exception cref="SnapshotFormatException">the slots differ, or the file is corrupt.</exception>
    public static void Load(GuestMemory memory, SnapshotReader reader)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(reader);
        int count;
        using (var r = reader.ReadSection("MEMS"))
        {
            count = r.ReadInt32();
        }

        if (count != memory.Slots.Count)
        {
            throw new SnapshotFormatException($"the snapshot has {count} memory slots, the machine {memory.Slots.Count}");
        }

        for (int i = 0; i < count; i++)
        {
            LoadSlot(memory, reader);
        }

        memory.Invalidate();
    }

    private static void SaveSlot(MemorySlot slot, SnapshotWriter writer)
    {
        ulong pages = slot.PageCount;
        ulong[] bitmap = new ulong[(pages + 63) / 64];
        long used = 0;
        byte* host = slot.HostPointer;
        for (ulong p = 0; p < pages; p++)
        {
            if (new ReadOnlySpan<byte>(host + (p * (ulong)PageSize), PageSize).ContainsAnyExcept((byte)0))
            {
                bitmap[p / 64] |= 1UL << (int)(p % 64);
                used++;
            }
        }

        int pad = Padding(writer.BytesWritten + 12 + SlotHeaderSize + (bitmap.Length * 8L));
        long length = SlotHeaderSize + (bitmap.Length * 8L) + pad + (used * PageSize);
        writer.BeginLargeSection(Tag, length);
        Span<byte> head = stackalloc byte[SlotHeaderSize];
        BinaryPrimitives.WriteInt32LittleEndian(head, slot.Id);
        BinaryPrimitives.WriteUInt64LittleEndian(head[4..], slot.GuestPhysBase.Value);
        BinaryPrimitives.WriteUInt64LittleEndian(head[12..], slot.Size);
        BinaryPrimitives.WriteInt32LittleEndian(head[20..], (int)slot.Flags);
        writer.WriteLarge(head);
        writer.WriteLarge(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bitmap.AsSpan()));
        writer.WriteLarge(new byte[pad]);
        foreach (var (first, n) in Runs(bitmap, pages))
        {
            writer.WriteLarge(new ReadOnlySpan<byte>(host + (first * (ulong)PageSize), checked((int)(n * (ulong)PageSize))));
        }

        writer.EndLargeSection();
    }

    private static void LoadSlot(GuestMemory memory, SnapshotReader reader)
    {
        long length = reader.BeginLargeSection(Tag);
        Span<byte> head = stackalloc byte[SlotHeaderSize];
        if (length < SlotHeaderSize)
        {
            throw reader.Corrupt("a memory section is shorter than its header");
        }

        reader.ReadLarge(head);
        int id = BinaryPrimitives.ReadInt32LittleEndian(head);
        ulong gpa = BinaryPrimitives.ReadUInt64LittleEndian(head[4..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(head[12..]);
        var slot = memory.Slots.FirstOrDefault(s => s.Id == id);
        if (slot is null || slot.GuestPhysBase.Value != gpa || slot.Size != size)
        {
            throw new SnapshotFormatException(
                $"the snapshot's memory slot {id} at 0x{gpa:x} of 0x{size:x} bytes does not match the machine's ({slot?.ToString() ?? "no such slot"})");
        }

        ulong pages = slot.PageCount;
        ulong[] bitmap = new ulong[(pages + 63) / 64];
        if (length < SlotHeaderSize + (bitmap.Length * 8L))
        {
            throw reader.Corrupt($"memory slot {id}'s section is shorter than its page bitmap");
        }

        reader.ReadLarge(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bitmap.AsSpan()));
        if ((pages % 64) != 0 && (bitmap[^1] >> (int)(pages % 64)) != 0)
        {
            throw reader.Corrupt($"memory slot {id}'s page bitmap marks pages beyond the slot");
        }

        int pad = Padding(reader.Position);
        if (length < SlotHeaderSize + (bitmap.Length * 8L) + pad)
        {
            throw reader.Corrupt($"memory slot {id}'s section is shorter than its padding");
        }

        reader.ReadLarge(stackalloc byte[pad]);
        byte* host = slot.HostPointer;
        var runs = Runs(bitmap, pages);
        bool map = slot.IsMapping && runs.Count <= MaxMappedRuns;
        foreach (var (first, n) in runs)
        {
            byte* at = host + (first * (ulong)PageSize);
            if (!map || !reader.TryMapLarge(at, (long)n * PageSize))
            {
                reader.ReadLarge(new Span<byte>(at, (int)(n * (ulong)PageSize)));
            }
        }

        reader.EndLargeSection();
    }

    // The zero bytes that put the pages, which follow position (the file's bytes before them), on a 4 KiB boundary.
    private static int Padding(long position) => (int)(-position & (PageSize - 1));

    // The runs of set bits as (first page, page count), in order, each at most 256 Ki pages (1 GiB: a span's length is an int).
    private static List<(ulong First, ulong Count)> Runs(ulong[] bitmap, ulong pages)
    {
        var runs = new List<(ulong, ulong)>();
        ulong p = 0;
        while (p < pages)
        {
            if ((bitmap[p / 64] & (1UL << (int)(p % 64))) == 0)
            {
                p++;
                continue;
            }

            ulong first = p;
            while (p < pages && (bitmap[p / 64] & (1UL << (int)(p % 64))) != 0 && p - first < (1UL << 18))
            {
                p++;
            }

            runs.Add((first, p - first));
        }

        return runs;
    }
}

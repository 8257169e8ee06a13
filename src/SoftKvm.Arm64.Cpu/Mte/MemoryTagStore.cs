using System.Collections.Concurrent;

namespace SoftKvm.Arm64.Cpu.Mte;

/// <summary>
/// The allocation tags of FEAT_MTE2 (Arm ARM D10 "The Memory Tagging Extension"): 4 bits per 16-byte
/// granule of guest-physical memory, kept apart from the guest's RAM (like the tag storage of a real
/// memory system, invisible to ordinary loads, stores, DMA and the VMM). Chunks of <see cref="ChunkBytes"/>
/// of guest-physical address space get their tags on the first tag write into them; a granule no write
/// reached has tag 0, so a VM that never stores a tag allocates nothing. Shared by the PEs of a VM
/// (<see cref="CpuShared.Tags"/>): a tag is written with one compare-and-swap on the 32-bit word holding
/// its granule and seven neighbours, so concurrent writers to neighbouring granules never lose a tag.
/// </summary>
internal sealed class MemoryTagStore
{
    /// <summary>Bytes of guest-physical address space per lazily allocated chunk (64 KiB: 512 words of tags).</summary>
    public const int ChunkBytes = 1 << ChunkShift;

    private const int ChunkShift = 16;
    private const int GranuleShift = 4;
    private const int GranulesPerWord = 8;

    private readonly ConcurrentDictionary<ulong, uint[]> _chunks = new();

    /// <summary>Whether any tag was ever written (a snapshot refuses such a VM: tags are not saved).</summary>
    public bool InUse => !_chunks.IsEmpty;

    /// <summary>How many chunks hold tags.</summary>
    public int ChunkCount => _chunks.Count;

    /// <summary>The allocation tag of the granule holding guest-physical address <paramref name="pa"/>.</summary>
    public int Get(ulong pa)
    {
        if (!_chunks.TryGetValue(pa >> ChunkShift, out uint[]? chunk))
        {
            return 0;
        }

        (int word, int shift) = Locate(pa);
        return (int)(Volatile.Read(ref chunk[word]) >> shift) & 0xF;
    }

    /// <summary>Sets the allocation tag of the granule holding <paramref name="pa"/> to <paramref name="tag"/> (low 4 bits).</summary>
    public void Set(ulong pa, int tag)
    {
        uint[]? chunk;
        if (!_chunks.TryGetValue(pa >> ChunkShift, out chunk))
        {
            if ((tag & 0xF) == 0)
            {
                return; // an absent chunk reads as 0 already
            }

            chunk = _chunks.GetOrAdd(pa >> ChunkShift, _ => new uint[ChunkBytes >> GranuleShift >> 3]);
        }

        (int word, int shift) = Locate(pa);
        uint mask = 0xFu << shift, value = (uint)(tag & 0xF) << shift;
        uint old = Volatile.Read(ref chunk[word]);
        while (true)
        {
            uint seen = Interlocked.CompareExchange(ref chunk[word], (old & ~mask) | value, old);
            if (seen == old)
            {
                return;
            }

            old = seen;
        }
    }

    private static (int Word, int Shift) Locate(ulong pa)
    {
        int granule = (int)((pa & (ChunkBytes - 1)) >> GranuleShift);
        return (granule / GranulesPerWord, 4 * (granule % GranulesPerWord));
    }
}

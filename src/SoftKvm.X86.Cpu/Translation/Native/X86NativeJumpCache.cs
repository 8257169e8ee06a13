using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// One vCPU's jump cache: where a native block leaves for a guest RIP, it jumps straight into the block
/// translated there when this direct-mapped table has it for the same privilege, and the fetch TLB maps
/// the RIP's page to the same host code the block was translated from (so a remapped or flushed page is
/// never run from a stale entry; the block's own entry still compares its bytes). The run loop fills an
/// entry every time it runs a block, and clears what it drops.
/// </summary>
internal sealed unsafe class X86NativeJumpCache
{
    /// <summary>The number of entries (a power of two): 2^<see cref="IndexBits"/>.</summary>
    public const int Size = 1 << IndexBits;

    /// <summary>The bits of an entry's index.</summary>
    public const int IndexBits = 15;

    /// <summary>One entry (32 bytes): offsets fixed, the generated code reads them.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Entry
    {
        public ulong Tag;
        public nint Host;
        public nint Chained;
        public ulong Rip;
    }

    public const int TagOffset = 0;
    public const int HostOffset = 8;
    public const int ChainedOffset = 16;
    public const int RipOffset = 24;

    private readonly Entry[] _entries = GC.AllocateArray<Entry>(Size, pinned: true);

    /// <summary>The table (pinned).</summary>
    public Entry* Table => (Entry*)Unsafe.AsPointer(ref _entries[0]);

    /// <summary>The entry of <paramref name="rip"/> (the generated code hashes the same way).</summary>
    public static int Index(ulong rip) => (int)((rip + (rip >> 12)) & (Size - 1));

    /// <summary>An entry's tag: RIP and the privilege key (1 supervisor, 2 user) in one word, distinct for canonical RIPs
    /// (the two bits shifted out are copies of bit 47).</summary>
    public static ulong Tag(ulong rip, int key) => (rip << 2) + (ulong)key;

    /// <summary>Records the block at <paramref name="rip"/>.</summary>
    public void Set(ulong rip, nint host, nint chained, int key) =>
        _entries[Index(rip)] = new Entry { Tag = Tag(rip, key), Host = host, Chained = chained, Rip = rip };

    /// <summary>Forgets the block at <paramref name="rip"/>, if it is there.</summary>
    public void Remove(ulong rip)
    {
        ref var e = ref _entries[Index(rip)];
        if (e.Rip == rip)
        {
            e = default;
        }
    }

    /// <summary>Forgets every block.</summary>
    public void Clear() => Array.Clear(_entries);
}

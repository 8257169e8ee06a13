using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// Why native code returned to the run loop (the low byte of its result; bits 8-31 hold an entry or exit
/// index, bits 32-63 the block's id). The first two are also what the interpreter helper returns.
/// </summary>
internal enum NativeExit : byte
{
    /// <summary>(Helper result) the instruction retired: go on in the block.</summary>
    Next = 0,

    /// <summary>(Helper result) the instruction retired with a taken branch: PC is set.</summary>
    Jump = 1,

    /// <summary>A direct exit not linked yet: PC is the exit's target (<see cref="NativeBlock.Exits"/>); the run loop links it.</summary>
    Chain = 2,

    /// <summary>An indirect branch (or a fallback's taken branch) the jump cache did not know: PC is set.</summary>
    JumpCacheMiss = 3,

    /// <summary>After an instruction that changes what the run loop watches (system instructions): PC is the exit's target.</summary>
    RunLoop = 4,

    /// <summary>An exception was taken in the guest: PC is the vector.</summary>
    Exception = 5,

    /// <summary>A trap to the hypervisor is pending (<see cref="Arm64Cpu.PendingExit"/>): PC at the instruction.</summary>
    Trap = 6,

    /// <summary>The guest changed the block's instructions: PC is the entry's; nothing ran.</summary>
    Stale = 7,

    /// <summary>A request or the end of the budget, seen at an entry: PC is the entry's; nothing ran.</summary>
    EntryCheck = 8,

    /// <summary>A request or the end of the budget, seen at a backward branch: PC is the exit's target.</summary>
    BackEdgeCheck = 9,

    /// <summary>A helper failed on the host (a SoftKvm bug): the run loop throws what it caught.</summary>
    InternalError = 10,

    /// <summary>(Also a helper result) the instruction retired and changed what the run loop watches: PC is set.</summary>
    Retired = 11,
}

/// <summary>The helpers native code calls, by slot in <see cref="NativeContext.Helpers"/>.</summary>
internal enum NativeHelper
{
    /// <summary>Runs one instruction of a block in the interpreter: <c>long (NativeContext*, int block id, int position)</c>.</summary>
    Interpret,

    /// <summary>
    /// Completes an access that missed the TLB, a GIC CPU-interface register access or a hypercall (<see cref="ExitHelperKind"/>):
    /// <c>long (NativeContext*, ulong va, ulong descriptor, ulong block PC)</c> (Arm64Cpu.ExitHelpers.cs).
    /// </summary>
    Exit,

    /// <summary>The number of helpers.</summary>
    Count,
}

/// <summary>One exit of a block to a known guest address.</summary>
/// <param name="TargetPc">The guest address control goes to.</param>
/// <param name="Slot">The link slot (executable-side address) of a chainable exit, else 0.</param>
/// <param name="Unlinked">Where the slot points while the exit is not linked (the exit's own tail), else 0.</param>
internal readonly record struct NativeExitInfo(ulong TargetPc, nint Slot, nint Unlinked);

/// <summary>
/// A translated block: its instructions (for the stale check and for re-translation), where its code
/// is, its entries and its exits, the links into it from other blocks (undone when it dies).
/// </summary>
internal sealed unsafe class NativeBlock(int id, uint* host, ulong pc, BlockMode mode, int[] indices, uint[] words, A64Op[] ops)
{
    /// <summary>The index of the block in its code cache (in every exit result of its code).</summary>
    public int Id { get; } = id;

    /// <summary>The host address of instruction index 0.</summary>
    public uint* Host { get; } = host;

    /// <summary>The guest address of instruction index 0.</summary>
    public ulong Pc { get; } = pc;

    /// <summary>The mode the block was compiled for.</summary>
    public BlockMode Mode { get; } = mode;

    /// <summary>The instructions, as indices relative to index 0.</summary>
    public int[] Indices { get; } = indices;

    /// <summary>Their words when the block was translated.</summary>
    public uint[] Words { get; } = words;

    /// <summary>Their ops.</summary>
    public A64Op[] Ops { get; } = ops;

    /// <summary>The entries, by ordinal.</summary>
    public NativeEntry[] Entries { get; set; } = [];

    /// <summary>The exits to known addresses, by index.</summary>
    public NativeExitInfo[] Exits { get; set; } = [];

    /// <summary>Exits of other blocks linked to an entry of this one (block, exit index); guarded by the cache's lock.</summary>
    public List<(NativeBlock Block, int Exit)> Incoming { get; } = [];

    /// <summary>Where the block's code starts.</summary>
    public nint Code { get; init; }

    /// <summary>The code's size in bytes.</summary>
    public int CodeSize { get; init; }

    /// <summary>The entry ordinal of the resume routine in the exits of its entry checks (EntryCheck, Stale).</summary>
    public const int ResumeOrdinal = 0xFFFF;

    /// <summary>The block's resume routine (X64Lowering.ExitHelpers.cs; 0: it calls no exit helper).</summary>
    public nint Resume { get; init; }

    // Whether the block's words are one run of memory (Indices ascend, the usual case): compared as one span.
    private readonly bool _contiguous = indices.Length > 0 && indices[^1] - indices[0] == indices.Length - 1;

    /// <summary>Whether guest memory still holds the words the block was translated from.</summary>
    public bool MatchesMemory()
    {
        if (_contiguous)
        {
            return new ReadOnlySpan<uint>(Host + Indices[0], Words.Length).SequenceEqual(Words); // vectorized
        }

        for (int k = 0; k < Indices.Length; k++)
        {
            if (Host[Indices[k]] != Words[k])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the block went stale (its entries are out of the cache and its incoming links undone).</summary>
    public volatile bool Dead;
}

/// <summary>One entry into a block: where the run loop (or a linked exit) may start it.</summary>
internal sealed unsafe class NativeEntry(NativeBlock block, int ordinal, int offset, nint code)
{
    /// <summary>The block.</summary>
    public NativeBlock Block { get; } = block;

    /// <summary>The entry's ordinal in the block.</summary>
    public int Ordinal { get; } = ordinal;

    /// <summary>The entry's instruction index relative to the block's index 0.</summary>
    public int Offset { get; } = offset;

    /// <summary>The host address of the entry instruction (the cache key).</summary>
    public uint* Host { get; } = block.Host + offset;

    /// <summary>The guest address of the entry instruction.</summary>
    public ulong Pc { get; } = block.Pc + (ulong)(4L * offset);

    /// <summary>The entry's native code.</summary>
    public nint Code { get; } = code;

    /// <summary>The next entry of the same chain of the code cache's entry table (written under its lock).</summary>
    public NativeEntry? Next;
}

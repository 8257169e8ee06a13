namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// One entry into translated code (<see cref="BlockCompiler"/>): the host method of a block and where
/// in it this entry is. The block's code starts by comparing guest memory with the words it was
/// compiled from, so a write to the code (by any PE, DMA or the VMM) makes it stale and it is never run
/// again: the same rule as the decode cache, checked once per entry instead of once per instruction.
/// </summary>
internal sealed unsafe class TranslatedBlock(BlockSource source, int offset, int ordinal, BlockCode code, bool optimized)
{
    /// <summary>The host address of the entry instruction (the cache key).</summary>
    public uint* Host { get; } = source.Host + offset;

    /// <summary>The entry's instruction index relative to the block's first entry.</summary>
    public int Offset { get; } = offset;

    /// <summary>The entry's ordinal, the code's <c>entry</c> argument.</summary>
    public int Ordinal { get; } = ordinal;

    /// <summary>The compiled code, shared by every entry of the block.</summary>
    public BlockCode Code { get; } = code;

    /// <summary>What the code was compiled from, shared by every entry of the block and by both of its compilations.</summary>
    public BlockSource Source { get; } = source;

    /// <summary>
    /// Whether <see cref="Code"/> is the optimized compilation (handlers inlined with their words as
    /// constants) rather than the quick one (handlers called).
    /// </summary>
    public bool Optimized { get; } = optimized;

    /// <summary>Runs the block from this entry, at guest address <paramref name="pc"/> (see <see cref="BlockCode"/>).</summary>
    public int Run(Arm64Cpu cpu, ulong pc, ref int requests, long limit) =>
        Code(cpu, pc - (4 * (ulong)(long)Offset), Ordinal, ref requests, limit);
}

/// <summary>
/// The instructions a block was compiled from (<see cref="BlockCompiler.Discover"/>) and its entries,
/// kept so that a block found hot in its quick compilation can be compiled again, optimized.
/// </summary>
internal sealed unsafe class BlockSource(uint* host, ulong pc, int[] indices, uint[] words)
{
    /// <summary>The host address of the instruction the block was discovered from (index 0).</summary>
    public uint* Host { get; } = host;

    /// <summary>The guest address of that instruction when it was discovered.</summary>
    public ulong Pc { get; } = pc;

    /// <summary>The instructions, as indices relative to <see cref="Host"/>, ascending.</summary>
    public int[] Indices { get; } = indices;

    /// <summary>The words of <see cref="Indices"/>.</summary>
    public uint[] Words { get; } = words;

    /// <summary>The entries (<see cref="BlockCompiler.Entries"/>).</summary>
    public int[] Entries { get; } = BlockCompiler.Entries(indices, words);

    /// <summary>
    /// Instructions retired in the quick compilation so far (counted by every PE without
    /// synchronisation: a count that decides when to optimize need not be exact).
    /// </summary>
    public long Heat;

    /// <summary>Whether the optimization has been asked for (once per block).</summary>
    public bool OptimizationRequested;
}

/// <summary>
/// Runs a block whose first entry is at guest address <paramref name="pc"/>, entering it at its entry
/// <paramref name="entry"/>; it checks <paramref name="requests"/> and stops once it has retired
/// <paramref name="limit"/> instructions at its backward branches. The result packs the instructions
/// retired (bits 31:2) with the <see cref="Flow"/> it left with (bits 1:0): Next or Jump with PC at the
/// next instruction to run, Exception or Trap as the instruction that raised it returned them. A block
/// whose words changed runs nothing and returns <see cref="BlockCompiler.Stale"/>.
/// </summary>
internal delegate int BlockCode(Arm64Cpu cpu, ulong pc, int entry, ref int requests, long limit);

/// <summary>The mutable state of one compiled block, shared by its entries (its code's first argument).</summary>
internal sealed class BlockState(int links = 0)
{
    /// <summary>
    /// For each exit of an optimized block to code of the same page outside it, the optimized block
    /// there once one is found, so that the block goes straight on into it instead of returning to the
    /// run loop (filled and dropped by the block's code; written by any PE without synchronisation, since
    /// a link is only a hint and the block it names checks its own words).
    /// </summary>
    public readonly TranslatedBlock?[] Links = links == 0 ? [] : new TranslatedBlock?[links];
}

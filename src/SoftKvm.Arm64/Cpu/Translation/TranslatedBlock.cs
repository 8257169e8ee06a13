namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// One entry into translated code (<see cref="BlockCompiler"/>): the host method of a block and where
/// in it this entry is. The block's code starts by comparing guest memory with the words it was
/// compiled from, so a write to the code (by any PE, DMA or the VMM) makes it stale and it is never run
/// again: the same rule as the decode cache, checked once per entry instead of once per instruction.
/// </summary>
internal sealed unsafe class TranslatedBlock(uint* host, int offset, int ordinal, BlockCode code)
{
    /// <summary>The host address of the entry instruction (the cache key).</summary>
    public uint* Host { get; } = host;

    /// <summary>The entry's instruction index relative to the block's first entry.</summary>
    public int Offset { get; } = offset;

    /// <summary>The entry's ordinal, the code's <c>entry</c> argument.</summary>
    public int Ordinal { get; } = ordinal;

    /// <summary>The compiled code, shared by every entry of the block.</summary>
    public BlockCode Code { get; } = code;

    /// <summary>Runs the block from this entry, at guest address <paramref name="pc"/> (see <see cref="BlockCode"/>).</summary>
    public int Run(Arm64Cpu cpu, ulong pc, ref int requests, long limit) =>
        Code(cpu, pc - (4 * (ulong)(long)Offset), Ordinal, ref requests, limit);
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

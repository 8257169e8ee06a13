using Iced.Intel;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>A compiled block, closed over its <see cref="BlockState"/>, entered at its entry number <paramref name="entry"/>
/// (<see cref="TranslatedBlock.Entries"/>): returns <see cref="BlockCompiler.Stale"/> or (instructions retired &lt;&lt; 1),
/// | 1 when the interpreter must run the instruction at RIP next.</summary>
internal delegate int BlockCode(X86Cpu cpu, long limit, int entry);

/// <summary>What a compiled block needs at run time besides its code: the instructions it hands to the interpreter's
/// handlers, and the bytes of its instructions with where guest memory holds them.</summary>
internal sealed class BlockState(Instruction[] instructions, nint codeHost, byte[] code, (int Start, int Length)[] runs)
{
    /// <summary>The decoded instructions, indexed as the block's instructions (only the generic ones are read).</summary>
    public readonly Instruction[] Instructions = instructions;

    /// <summary>The host address of the block's first byte in guest memory.</summary>
    public readonly nint CodeHost = codeHost;

    /// <summary>The bytes compiled, from the first instruction's to the last one's end.</summary>
    public readonly byte[] Code = code;

    /// <summary>The parts of <see cref="Code"/> that are the block's instructions (offsets in it): the gaps a jump skips are not.</summary>
    public readonly (int Start, int Length)[] Runs = runs;
}

/// <summary>A compiled block, its number of instructions (the most one pass through it retires) and the RIPs it may be
/// entered at (<see cref="BlockShape.Entries"/>; the first is the place it was compiled for).</summary>
internal sealed record TranslatedBlock(BlockCode Code, int InstructionCount, ulong[] Entries)
{
    /// <summary>The entry number of <paramref name="rip"/>, or -1 when the block is not entered there.</summary>
    public int EntryOf(ulong rip) => Array.IndexOf(Entries, rip);
}

/// <summary>
/// What a block holds (<see cref="BlockCompiler.Shape"/>): its instructions, the page offsets it may be entered at (the
/// place asked for first), and the instructions it ends before that the guest goes on after (offset to end).
/// </summary>
internal sealed class BlockShape(List<BlockCompiler.Item> items, List<int> entries, Dictionary<int, int> stops)
{
    public List<BlockCompiler.Item> Items { get; } = items;

    public List<int> Entries { get; } = entries;

    public Dictionary<int, int> Stops { get; } = stops;
}

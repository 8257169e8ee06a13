using Iced.Intel;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>A compiled block, closed over its <see cref="BlockState"/>: returns <see cref="BlockCompiler.Stale"/>
/// or (instructions retired &lt;&lt; 1) | 1 when the interpreter must run the instruction at RIP next.</summary>
internal delegate int BlockCode(X86Cpu cpu, long limit);

/// <summary>What a compiled block needs at run time besides its code: the instructions it hands to the interpreter's handlers.</summary>
internal sealed class BlockState(Instruction[] instructions)
{
    /// <summary>The decoded instructions, indexed as the block's instructions (only the generic ones are read).</summary>
    public readonly Instruction[] Instructions = instructions;
}

/// <summary>A compiled block and its number of instructions (the most one pass through it retires).</summary>
internal sealed record TranslatedBlock(BlockCode Code, int InstructionCount);

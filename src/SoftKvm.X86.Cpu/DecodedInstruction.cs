using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>One entry of the decoded-instruction cache (see <see cref="X86Cpu"/>.FetchCached).</summary>
internal struct DecodedInstruction
{
    public nint Host;
    public ulong Rip;
    public int Bitness;
    public ulong Bytes0;
    public ulong Bytes1;
    public ulong Mask0;
    public ulong Mask1;
    public Instruction Insn;
}

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>How a block handles one instruction (<see cref="BlockCompiler"/>); <see cref="Stop"/> ends the block before it.</summary>
internal enum BlockOp
{
    Stop,
    Generic,
    Nop,
    Mov,
    Movzx,
    Movsx,
    Lea,
    Binary,
    IncDec,
    Neg,
    Not,
    Shift,
    DoubleShift,
    Mul,
    Imul,
    Setcc,
    Push,
    Pop,
    Jcc,
    Jmp,
    Call,
    Ret,

    /// <summary>IN or OUT of AL/AX/EAX at an immediate port or DX: straight to the exit fast path (X86Cpu.BlockDevice.cs).</summary>
    Port,

    /// <summary>RDTSC or RDTSCP: the TSC into EDX:EAX (RDTSCP: IA32_TSC_AUX into ECX), as the handler reads it (X86Cpu.BlockOps.cs).</summary>
    Rdtsc,

    /// <summary>An instruction the interpreter's handler runs (as <see cref="Generic"/>) after which the block ends: STI, whose
    /// interrupt shadow covers the next instruction, which the run loop then interprets.</summary>
    GenericLast,
}

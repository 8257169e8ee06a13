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
}

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// How generated code uses the host registers (System V x86-64): rbp holds the <see cref="NativeContext"/>,
/// r15 the instruction budget left, rax/rcx/rdx are scratch for single operations (division, wide
/// multiply, shift counts, the TLB walk), r11/r10 the two temporaries of a guest instruction, and the
/// other eight hold guest registers (<see cref="GuestRegisterAllocation"/>). Every register is either
/// saved by the entry trampoline (rbx, rbp, r12-r15) or written back to the context before each helper
/// call and reloaded after it, so helpers may use the whole ABI.
/// </summary>
internal static class X64Layout
{
    /// <summary>The context pointer.</summary>
    public const Reg Context = Reg.Rbp;

    /// <summary>Instructions left before the block must return (signed; negative: stop).</summary>
    public const Reg Budget = Reg.R15;

    /// <summary>Host register of temporary 0 and 1.</summary>
    public static Reg Temp(int n) => n == 0 ? Reg.R11 : Reg.R10;

    /// <summary>The host registers guest registers are mapped to, most used first.</summary>
    public static ReadOnlySpan<Reg> GuestRegisters => [Reg.Rbx, Reg.R12, Reg.R13, Reg.R14, Reg.Rsi, Reg.Rdi, Reg.R8, Reg.R9];
}

namespace SoftKvm.Core.CodeGen;

/// <summary>An x86-64 general-purpose register, numbered as the encoding numbers it.</summary>
internal enum Reg : byte
{
    Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,

    /// <summary>No register (an absent index of a memory operand).</summary>
    None = 0xFF,
}

/// <summary>An x86 condition code, numbered as in Jcc/SETcc/CMOVcc.</summary>
internal enum Cc : byte
{
    O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G,
}

/// <summary>The eight classic ALU operations, numbered as their /digit.</summary>
internal enum Alu : byte
{
    Add, Or, Adc, Sbb, And, Sub, Xor, Cmp,
}

/// <summary>The shift and rotate group, numbered as their /digit.</summary>
internal enum Shift : byte
{
    Rol = 0, Ror = 1, Shl = 4, Shr = 5, Sar = 7,
}

/// <summary>A memory operand [base + index * scale + disp] (no index: <see cref="Reg.None"/>).</summary>
internal readonly record struct Mem(Reg Base, int Disp, Reg Index = Reg.None, byte Scale = 1);

/// <summary>A label of the code being assembled.</summary>
internal readonly record struct AsmLabel(int Id);

/// <summary>x86 condition helpers.</summary>
internal static class CcExtensions
{
    /// <summary>The opposite condition.</summary>
    public static Cc Not(this Cc cc) => (Cc)((byte)cc ^ 1);
}

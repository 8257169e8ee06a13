namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// A system register named by its MRS/MSR encoding (op0, op1, CRn, CRm, op2), packed as
/// <c>op0&lt;&lt;14 | op1&lt;&lt;11 | CRn&lt;&lt;7 | CRm&lt;&lt;3 | op2</c> (bits [20:5] of the instruction).
/// </summary>
/// <param name="Value">The packed encoding.</param>
public readonly record struct SysRegKey(uint Value)
{
    /// <summary>Packs an encoding.</summary>
    public static SysRegKey Of(int op0, int op1, int crn, int crm, int op2) =>
        new((uint)((op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2));

    /// <summary>op0 (2 or 3 for registers).</summary>
    public int Op0 => (int)(Value >> 14) & 3;

    /// <summary>op1.</summary>
    public int Op1 => (int)(Value >> 11) & 7;

    /// <summary>CRn.</summary>
    public int CRn => (int)(Value >> 7) & 15;

    /// <summary>CRm.</summary>
    public int CRm => (int)(Value >> 3) & 15;

    /// <summary>op2.</summary>
    public int Op2 => (int)Value & 7;

    /// <inheritdoc />
    public override string ToString() => $"S{Op0}_{Op1}_C{CRn}_C{CRm}_{Op2}";
}

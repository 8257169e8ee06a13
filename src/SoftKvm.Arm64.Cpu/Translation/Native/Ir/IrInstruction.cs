namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>What an <see cref="IrOperand"/> names.</summary>
internal enum IrKind : byte
{
    /// <summary>No operand.</summary>
    None,

    /// <summary>A guest register: X0-X30, or <see cref="IrOperand.Sp"/> (XZR never appears: reads are constants, writes are dropped).</summary>
    Reg,

    /// <summary>A temporary of one guest instruction (<see cref="IrOperand.TempCount"/> at most).</summary>
    Temp,

    /// <summary>A constant.</summary>
    Const,
}

/// <summary>An operand of an <see cref="IrInstruction"/>.</summary>
internal readonly record struct IrOperand(IrKind Kind, byte Index, long Value)
{
    /// <summary>The register index of the stack pointer of the block's mode (SP_EL0 or SP_EL1).</summary>
    public const int Sp = 31;

    /// <summary>How many temporaries one guest instruction may use.</summary>
    public const int TempCount = 2;

    /// <summary>No operand.</summary>
    public static IrOperand None => default;

    /// <summary>Guest register <paramref name="n"/> (31 = SP).</summary>
    public static IrOperand Reg(int n) => new(IrKind.Reg, (byte)n, 0);

    /// <summary>Temporary <paramref name="n"/>.</summary>
    public static IrOperand Temp(int n) => new(IrKind.Temp, (byte)n, 0);

    /// <summary>The constant <paramref name="value"/>.</summary>
    public static IrOperand Const(long value) => new(IrKind.Const, 0, value);

    /// <summary>The constant <paramref name="value"/>.</summary>
    public static IrOperand Const(ulong value) => new(IrKind.Const, 0, (long)value);

    /// <summary>Whether this is a constant.</summary>
    public bool IsConst => Kind == IrKind.Const;

    /// <summary>Whether this is guest register or temporary (a location).</summary>
    public bool IsLocation => Kind is IrKind.Reg or IrKind.Temp;

    /// <summary>Whether this names the same location as <paramref name="other"/>.</summary>
    public bool SameLocation(IrOperand other) => IsLocation && Kind == other.Kind && Index == other.Index;

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        IrKind.Reg => Index == Sp ? "sp" : $"x{Index}",
        IrKind.Temp => $"t{Index}",
        IrKind.Const => $"#{Value:x}",
        _ => "-",
    };
}

/// <summary>
/// One IR operation. Every guest instruction becomes a run of these (<see cref="Insn"/> says which);
/// operands are guest registers, temporaries or constants; <see cref="W64"/> is the operation size
/// (32-bit results are zero-extended, as A64's W registers are).
/// </summary>
internal struct IrInstruction
{
    public IrOpcode Op;

    /// <summary>64-bit operation (else 32-bit).</summary>
    public bool W64;

    /// <summary>Whether (and how) the operation sets NZCV.</summary>
    public IrFlags Flags;

    /// <summary>The A64 condition (0-15) of conditional operations.</summary>
    public byte Cond;

    /// <summary>Extension width in bits, or a memory access size in bytes.</summary>
    public byte Size;

    /// <summary>A sign-extending load.</summary>
    public bool Signed;

    /// <summary>A load or store of a pair of elements.</summary>
    public bool Pair;

    /// <summary>An unprivileged access (LDTR/STTR at EL1).</summary>
    public bool Unprivileged;

    /// <summary>An access that must be aligned whatever SCTLR_EL1.A says (LDAR, STLR): a misaligned one takes the slow path.</summary>
    public bool Aligned;

    /// <summary>
    /// A load that sets the exclusive monitor (LDXR), or a store that succeeds only while the monitor holds
    /// its location and value, writing its status (0 stored, 1 not) to Dst (STXR): X64Lowering.Exclusives.cs.
    /// </summary>
    public bool Exclusive;

    /// <summary>The exit the builder added where an instruction falls through to one outside the block.</summary>
    public bool Fallthrough;

    /// <summary>The base register of a memory access is SP (checked for alignment when the mode asks).</summary>
    public bool SpBase;

    /// <summary>The index shift of a memory operand (A + (B &lt;&lt; Shift) + Imm).</summary>
    public byte Shift;

    public IrOperand Dst;
    public IrOperand A;
    public IrOperand B;
    public IrOperand C;
    public IrOperand D;

    /// <summary>An immediate: a memory displacement, a bit number, a condition's nzcv.</summary>
    public long Imm;

    /// <summary>The <see cref="Imm"/> of a BR on a BTI model through a register other than X16, X17: BTYPE 11 from a guarded page, else 01.</summary>
    public const long BtypeByPage = 4;

    /// <summary>The branch target, as an instruction index relative to the block's first instruction.</summary>
    public int Target;

    /// <summary>The guest instruction this operation belongs to (its position in the block).</summary>
    public int Insn;

    /// <summary>
    /// Whether the operation writes <see cref="C"/> too: the second register of a load pair, and the second of CASP's
    /// compared pair (which it reads first).
    /// </summary>
    public readonly bool WritesC => (Op == IrOpcode.Load && Pair) || (Op == IrOpcode.Atomic && Cond == A64IrBuilder.AtomicCompareAndSwapPair);

    /// <inheritdoc />
    public override readonly string ToString()
    {
        string flags = Flags == IrFlags.None ? "" : $".{Flags}";
        return Op switch
        {
            IrOpcode.Load or IrOpcode.Store => $"{Op}{(Exclusive ? "X" : "")}{(Pair ? "P" : "")}{Size}{(Signed ? "s" : "")} {Dst},{C},{D} [{A}+{B}<<{Shift}+{Imm}]",
            IrOpcode.Branch or IrOpcode.BranchCond or IrOpcode.BranchZero or IrOpcode.BranchNotZero
                or IrOpcode.BranchBitClear or IrOpcode.BranchBitSet or IrOpcode.Reenter => $"{Op} c{Cond} {A} #{Imm} -> {Target}",
            _ => $"{Op}{flags}{(W64 ? "" : ".w")} {Dst} = {A}, {B}, {C} (c{Cond} #{Imm:x})",
        };
    }
}

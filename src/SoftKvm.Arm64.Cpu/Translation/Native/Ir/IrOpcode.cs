namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// The operations of the block IR: three-address operations on guest registers, temporaries and
/// constants (<see cref="IrOperand"/>), NZCV as an explicit value (set by the operations with
/// <see cref="IrInstruction.Flags"/>, read by the conditional ones), guest memory accesses, control flow
/// inside the block and out of it, and the fallback that runs one instruction in the interpreter.
/// </summary>
internal enum IrOpcode : byte
{
    /// <summary>Nothing (an operation a pass removed).</summary>
    Nop,

    /// <summary>Dst = A.</summary>
    Mov,

    /// <summary>Dst = A + B (sets NZCV as ADDS when <see cref="IrInstruction.Flags"/> says so).</summary>
    Add,

    /// <summary>Dst = A - B (sets NZCV as SUBS).</summary>
    Sub,

    /// <summary>Dst = A AND B (sets NZCV as ANDS).</summary>
    And,

    /// <summary>Dst = A OR B.</summary>
    Or,

    /// <summary>Dst = A XOR B.</summary>
    Xor,

    /// <summary>Dst = A AND NOT B (sets NZCV as BICS).</summary>
    AndNot,

    /// <summary>Dst = A OR NOT B.</summary>
    OrNot,

    /// <summary>Dst = A XOR NOT B.</summary>
    XorNot,

    /// <summary>Dst = A + B + C flag (sets NZCV as ADCS).</summary>
    Adc,

    /// <summary>Dst = A - B - NOT C flag (sets NZCV as SBCS).</summary>
    Sbc,

    /// <summary>Dst = A &lt;&lt; B (B modulo the width, as LSLV).</summary>
    Shl,

    /// <summary>Dst = A &gt;&gt; B, logical.</summary>
    Shr,

    /// <summary>Dst = A &gt;&gt; B, arithmetic.</summary>
    Sar,

    /// <summary>Dst = A rotated right by B.</summary>
    Ror,

    /// <summary>Dst = low half of A * B.</summary>
    Mul,

    /// <summary>Dst = high 64 bits of the signed 128-bit product A * B.</summary>
    MulHighSigned,

    /// <summary>Dst = high 64 bits of the unsigned 128-bit product A * B.</summary>
    MulHighUnsigned,

    /// <summary>Dst = A / B signed, with A64's results for B = 0 (0) and overflow (A).</summary>
    DivSigned,

    /// <summary>Dst = A / B unsigned, 0 for B = 0.</summary>
    DivUnsigned,

    /// <summary>Dst = -A.</summary>
    Neg,

    /// <summary>Dst = NOT A.</summary>
    Not,

    /// <summary>Dst = count of leading zero bits of A.</summary>
    Clz,

    /// <summary>Dst = A with its bits reversed.</summary>
    Rbit,

    /// <summary>Dst = A with its bytes reversed.</summary>
    Rev,

    /// <summary>Dst = A with the bytes of each halfword swapped.</summary>
    Rev16,

    /// <summary>
    /// Dst = the CRC-32 (polynomial 0x04C11DB7, bit-reflected, as A64's CRC32B/H/W/X) of the low
    /// <see cref="IrInstruction.Size"/> bits of B, accumulated onto the low 32 bits of A.
    /// </summary>
    Crc32,

    /// <summary>Dst = the same with the CRC-32C polynomial (0x1EDC6F41: CRC32CB/H/W/X).</summary>
    Crc32c,

    /// <summary>Dst = A sign-extended from <see cref="IrInstruction.Size"/> bits (8, 16, 32).</summary>
    SignExtend,

    /// <summary>Dst = A zero-extended from <see cref="IrInstruction.Size"/> bits (8, 16, 32).</summary>
    ZeroExtend,

    /// <summary>Dst = condition <see cref="IrInstruction.Cond"/> holds ? A : B.</summary>
    Select,

    /// <summary>
    /// NZCV = condition holds ? the flags of A - B (A + B when <see cref="IrInstruction.Flags"/> is
    /// <see cref="IrFlags.Add"/>) : <see cref="IrInstruction.Imm"/> (the instruction's nzcv field). CCMP, CCMN.
    /// </summary>
    CondCompare,

    /// <summary>
    /// Dst = guest memory at A + (B &lt;&lt; Shift) + Imm, <see cref="IrInstruction.Size"/> bytes (1, 2, 4, 8),
    /// sign-extended when <see cref="IrInstruction.Signed"/>; with <see cref="IrInstruction.Pair"/>, C = the
    /// next element too. The slow path runs the whole instruction in the interpreter.
    /// </summary>
    Load,

    /// <summary>Guest memory at A + (B &lt;&lt; Shift) + Imm = C (and the next element = D when paired).</summary>
    Store,

    /// <summary>Dst = the state field at context offset <see cref="IrInstruction.Imm"/> (<see cref="IrInstruction.Size"/> bytes, zero-extended).</summary>
    ReadState,

    /// <summary>The 8-byte state field at context offset <see cref="IrInstruction.Imm"/> = A.</summary>
    WriteState,

    /// <summary>The 64 bytes of guest memory at A rounded down to 64 = 0 (DC ZVA); the slow path runs the instruction.</summary>
    ZeroBlock,

    /// <summary>A full memory barrier (DMB/DSB of loads and stores).</summary>
    Fence,

    /// <summary>
    /// FEAT_LSE: Dst = guest memory at A (<see cref="IrInstruction.Size"/> bytes, aligned), which atomically
    /// becomes old + B, old AND NOT B, old XOR B, old OR B (<see cref="IrInstruction.Cond"/> 0-3: LDADD, LDCLR, LDEOR,
    /// LDSET), B (8: SWP), or C where old equals B (9: CAS). The slow path runs the instruction in the interpreter.
    /// </summary>
    Atomic,

    /// <summary>
    /// Dst = pointer A signed, authenticated or stripped with the IMPDEF algorithm (FEAT_PAuth), modifier B:
    /// <see cref="IrInstruction.Imm"/> is <see cref="PacOperation"/> &lt;&lt; 2 | key (0-3: IA, IB, DA, DB). A
    /// pointer in the other half of the address space than the instruction's takes the slow path.
    /// </summary>
    Pac,

    /// <summary>Go to instruction <see cref="IrInstruction.Target"/> (in the block, or an exit).</summary>
    Branch,

    /// <summary>Go to <see cref="IrInstruction.Target"/> when condition <see cref="IrInstruction.Cond"/> holds.</summary>
    BranchCond,

    /// <summary>Go to <see cref="IrInstruction.Target"/> when A is zero (CBZ).</summary>
    BranchZero,

    /// <summary>Go to <see cref="IrInstruction.Target"/> when A is not zero (CBNZ).</summary>
    BranchNotZero,

    /// <summary>Go to <see cref="IrInstruction.Target"/> when bit Imm of A is clear (TBZ).</summary>
    BranchBitClear,

    /// <summary>Go to <see cref="IrInstruction.Target"/> when bit Imm of A is set (TBNZ).</summary>
    BranchBitSet,

    /// <summary>
    /// Go to the guest address in A (BR, BLR, RET), through the jump cache. On a BTI model
    /// <see cref="IrInstruction.Imm"/> is the PSTATE.BTYPE the branch sets (1, 2), or
    /// <see cref="IrInstruction.BtypeByPage"/> (01, or 11 from a guarded page).
    /// </summary>
    BranchIndirect,

    /// <summary>Run the instruction in the interpreter (its handler, through a helper).</summary>
    Fallback,

    /// <summary>
    /// Leave the block and enter again at <see cref="IrInstruction.Target"/> through the jump cache (after
    /// ISB: the entry's stale check then sees code changed before the context synchronization).
    /// </summary>
    Reenter,

    /// <summary>
    /// After a write of PSTATE.DAIF: when an interrupt is pending that DAIF no longer masks, the instruction runs
    /// again in the interpreter, which leaves for the run loop that takes it (Arm64Cpu.MaskedInterrupts.cs).
    /// </summary>
    InterruptCheck,
}

/// <summary>Whether and how an operation sets NZCV.</summary>
internal enum IrFlags : byte
{
    /// <summary>NZCV unchanged.</summary>
    None,

    /// <summary>As the A64 addition: C = carry out, V = signed overflow.</summary>
    Add,

    /// <summary>As the A64 subtraction: C = NOT borrow, V = signed overflow.</summary>
    Sub,

    /// <summary>As the A64 logical operations: N and Z from the result, C = V = 0.</summary>
    Logic,
}

/// <summary>Facts about <see cref="IrOpcode"/>s.</summary>
internal static class IrOpcodeFacts
{
    /// <summary>Whether control never goes on to the next operation.</summary>
    public static bool IsUnconditionalTransfer(this IrOpcode op) =>
        op is IrOpcode.Branch or IrOpcode.BranchIndirect or IrOpcode.Reenter;

    /// <summary>Whether the operation is a conditional branch (on to the next operation, or to its target).</summary>
    public static bool IsConditionalBranch(this IrOpcode op) =>
        op is IrOpcode.BranchCond or IrOpcode.BranchZero or IrOpcode.BranchNotZero or IrOpcode.BranchBitClear or IrOpcode.BranchBitSet;
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// Builds the IR of a block from its A64 instructions: the integer data-processing instructions, the
/// general-register loads and stores and the branches become IR operations with the interpreter's
/// semantics (the handlers in Cpu/ are the reference, field for field); every other instruction, and
/// every encoding those handlers treat as UNDEFINED, becomes a <see cref="IrOpcode.Fallback"/> that runs
/// the interpreter's handler for it, so every A64 instruction runs in native blocks. Instructions that
/// end the interpreter's straight-line flow (system instructions, exception generation) are followed by
/// an exit to the run loop, which looks at what they changed.
/// <para>
/// An instruction's operations never change architectural state before every check that could send it
/// to its slow path has passed (memory accesses check their TLB entries first), because a slow path
/// runs the whole instruction again in the interpreter.
/// </para>
/// </summary>
internal sealed partial class A64IrBuilder
{
    private IrBlock _block = null!;
    private int _k;
    private int _index;
    private uint _word;
    private ulong _pc;

    private static readonly IrOperand T0 = IrOperand.Temp(0);
    private static readonly IrOperand T1 = IrOperand.Temp(1);

    /// <summary>Fills <paramref name="block"/> (reset with its instructions) with their operations.</summary>
    public void Build(IrBlock block)
    {
        _block = block;
        for (int k = 0; k < block.Indices.Length; k++)
        {
            block.BeginInstruction(k);
            _k = k;
            _index = block.Indices[k];
            _word = block.Words[k];
            _pc = block.PcOf(_index);
            A64Op op = block.Decoded[k];
            int start = block.Count;
            if (!Translate(op))
            {
                block.Truncate(start);
                Fallback(op);
            }

            // Every instruction has an operation, and its end says where control goes: on to the next
            // instruction when that is in the block, else an explicit exit to it.
            if (block.Count == start)
            {
                Add(new IrInstruction { Op = IrOpcode.Nop });
            }

            if (!block.Ops[block.Count - 1].Op.IsUnconditionalTransfer()
                && (k + 1 == block.Indices.Length || block.Indices[k + 1] != _index + 1))
            {
                Add(new IrInstruction { Op = IrOpcode.Branch, Target = _index + 1, Fallthrough = true });
            }
        }

        block.End();
    }

    private bool Translate(A64Op op) => op switch
    {
        A64Op.Adr or A64Op.Adrp => PcRelative(op),
        A64Op.AddImm or A64Op.AddsImm or A64Op.SubImm or A64Op.SubsImm => AddSubImmediate(),
        A64Op.AndImm or A64Op.OrrImm or A64Op.EorImm or A64Op.AndsImm => LogicalImmediate(),
        A64Op.Movn or A64Op.Movz or A64Op.Movk => MoveWide(op),
        A64Op.Sbfm or A64Op.Ubfm or A64Op.Bfm => Bitfield(op),
        A64Op.Extr => Extract(),
        >= A64Op.AndShifted and <= A64Op.BicsShifted => LogicalShifted(),
        A64Op.AddShifted or A64Op.AddsShifted or A64Op.SubShifted or A64Op.SubsShifted => AddSubShifted(),
        A64Op.AddExt or A64Op.AddsExt or A64Op.SubExt or A64Op.SubsExt => AddSubExtended(),
        A64Op.Adc or A64Op.Adcs or A64Op.Sbc or A64Op.Sbcs => AddSubCarry(),
        A64Op.CcmnReg or A64Op.CcmpReg or A64Op.CcmnImm or A64Op.CcmpImm => ConditionalCompare(op),
        A64Op.Csel or A64Op.Csinc or A64Op.Csinv or A64Op.Csneg => ConditionalSelect(op),
        A64Op.Udiv or A64Op.Sdiv => Divide(op),
        A64Op.Lslv or A64Op.Lsrv or A64Op.Asrv or A64Op.Rorv => ShiftVariable(op),
        A64Op.Rbit or A64Op.Rev16 or A64Op.Rev32 or A64Op.Rev or A64Op.Clz => DataProcessing1Source(op),
        A64Op.Crc32 or A64Op.Crc32c => Crc(op),
        >= A64Op.Madd and <= A64Op.Umulh => DataProcessing3Source(op),
        A64Op.LdStUnscaled or A64Op.LdStPost or A64Op.LdStUnpriv or A64Op.LdStPre or A64Op.LdStRegOffset
            or A64Op.LdStUnsignedOffset => LoadStoreRegister(op),
        A64Op.LdStPairNoAlloc or A64Op.LdStPairPost or A64Op.LdStPairOffset or A64Op.LdStPairPre => LoadStorePair(op),
        A64Op.LdrLit or A64Op.LdrswLit or A64Op.PrfmLit => LoadLiteral(op),
        A64Op.Ldar or A64Op.Stlr => LoadStoreOrdered(op),
        A64Op.AtomicMemory => AtomicMemory(),
        A64Op.Cas => CompareAndSwap(),
        A64Op.Casp => CompareAndSwapPair(),
        A64Op.Ldxr or A64Op.Ldaxr or A64Op.Stxr or A64Op.Stlxr => LoadStoreExclusive(op),
        A64Op.Ldxp or A64Op.Ldaxp or A64Op.Stxp or A64Op.Stlxp => LoadStoreExclusivePair(op),
        A64Op.Clrex => ClearExclusive(),
        A64Op.B or A64Op.Bl => BranchImmediate(op),
        A64Op.BCond => BranchConditional(),
        A64Op.Cbz or A64Op.Cbnz => CompareAndBranch(op),
        A64Op.Tbz or A64Op.Tbnz => TestAndBranch(op),
        A64Op.Br or A64Op.Blr when (_block.Mode & BlockMode.Bti) != 0 => BranchRegisterBti(op),
        A64Op.Br or A64Op.Blr or A64Op.Ret => BranchRegister(op),
        A64Op.Nop or A64Op.Yield or A64Op.Hint or A64Op.Bti => true,
        A64Op.PacHint => PacHint(),
        A64Op.PacDataProcessing => PacDataProcessing(),
        A64Op.Isb => Reenter(),
        A64Op.Mrs => SystemRegisterRead(),
        A64Op.MsrReg => SystemRegisterWrite(),
        A64Op.MsrImm => PstateImmediate(),
        A64Op.Sys => SystemInstruction(),
        A64Op.Dmb or A64Op.Dsb => Barrier(),
        _ => false,
    };

    /// <summary>
    /// The interpreter runs the instruction. The block goes on after it unless the interpreter says
    /// otherwise (an exception, a taken branch, a changed mode or interrupt state).
    /// </summary>
    private void Fallback(A64Op op) => Add(new IrInstruction { Op = IrOpcode.Fallback, Imm = (long)op });

    /// <summary>ISB: the block is left and entered again at the next instruction (its stale check sees code changed before the synchronization).</summary>
    private bool Reenter()
    {
        Add(new IrInstruction { Op = IrOpcode.Reenter, Target = _index + 1 });
        return true;
    }

    private void Add(IrInstruction op)
    {
        op.Insn = _k;
        _block.Add(op);
    }

    /// <summary>Dst = a op b.</summary>
    private void Emit(IrOpcode op, IrOperand dst, IrOperand a, IrOperand b, bool w64, IrFlags flags = IrFlags.None) =>
        Add(new IrInstruction { Op = op, Dst = dst, A = a, B = b, W64 = w64, Flags = flags });

    /// <summary>Dst = a.</summary>
    private void Move(IrOperand dst, IrOperand a, bool w64 = true) =>
        Add(new IrInstruction { Op = IrOpcode.Mov, Dst = dst, A = a, W64 = w64 });

    /// <summary>Register n where 31 reads as zero (X(n) of the interpreter).</summary>
    private static IrOperand X(int n) => n == 31 ? IrOperand.Const(0) : IrOperand.Reg(n);

    /// <summary>Register n where 31 is SP.</summary>
    private static IrOperand XOrSp(int n) => IrOperand.Reg(n);

    /// <summary>Destination register n where 31 discards (XZR).</summary>
    private static IrOperand DstX(int n) => n == 31 ? IrOperand.None : IrOperand.Reg(n);

    private int Rd => (int)_word & 31;

    private int Rn => (int)(_word >> 5) & 31;

    private int Rm => (int)(_word >> 16) & 31;

    private bool Sf => (_word >> 31) != 0;
}

using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Branches: to a label of the block (forward: a jump; backward: through the exit-request and budget
/// check), out of it (a link slot to the next block of the same page, else the jump cache), indirect
/// (the jump cache). Every branch first brings the budget up to date, so both of its paths start at 0.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    /// <summary>
    /// Goes to instruction index <paramref name="target"/>, when <paramref name="cc"/> holds (or always when
    /// it is null). The host flags are those of the operations before; they stay for the fall-through path.
    /// </summary>
    private void JumpTo(int target, Cc? cc)
    {
        SyncBudget(_pending);
        _pending = 0;
        int k = _b.PositionOf(target);
        bool save = _eflags != IrFlags.None && !_imageValid;
        AsmLabel to;
        if (k >= 0)
        {
            if (!_b.IsLabel[k])
            {
                throw new InvalidOperationException($"branch to instruction {target} of the block, which is not a label");
            }

            bool backward = target <= _b.Indices[_k];
            AsmLabel label = backward ? _checkLabels[k]!.Value : _insnLabels[k];
            if (backward && (save || LazyOnly) && _lazy >= 0 && !LiveInForTheBody(k))
            {
                // NZCV is live at the loop head only for its check: a check of this branch's own, which
                // computes NZCV again where it leaves, and nothing saved on the way round.
                to = AddStub(StubKind.EdgeCheck, target: target);
                _stubs[^1] = _stubs[^1] with { Lazy = _lazy };
            }
            else if ((save || LazyOnly) && (backward || _b.FlagsLiveIn[_b.FirstOp[k]]))
            {
                // Through the image: a loop head's check may leave, and a label wants live flags there.
                to = AddStub(StubKind.SaveThenJump, _eflags, save, target, to: label);
            }
            else
            {
                to = label;
            }
        }
        else
        {
            to = AddStub(StubKind.Exit, _eflags, save, target);
        }

        if (cc is { } condition)
        {
            _asm.Jcc(condition, to);
        }
        else
        {
            _asm.Jmp(to);
            _reachable = false;
        }
    }

    /// <summary>CBZ, CBNZ, TBZ, TBNZ: a test of a register, then the branch.</summary>
    private void LowerTestBranch(in IrInstruction op)
    {
        PrepareClobber();
        bool zero = op.Op is IrOpcode.BranchZero or IrOpcode.BranchBitClear;
        Loc a = Locate(op.A);
        if (a.Kind == LocKind.Imm)
        {
            ulong v = (ulong)a.Imm;
            bool isZero = op.Op is IrOpcode.BranchZero or IrOpcode.BranchNotZero
                ? (op.W64 ? v : (uint)v) == 0
                : ((v >> (int)op.Imm) & 1) == 0;
            if (isZero == zero)
            {
                JumpTo(op.Target, null);
            }

            return;
        }

        Reg r = InReg(op.A, Reg.Rax, true);
        if (op.Op is IrOpcode.BranchZero or IrOpcode.BranchNotZero)
        {
            _asm.Test(r, r, op.W64);
        }
        else if (op.Imm < 32)
        {
            _asm.TestImm(r, unchecked((int)(1u << (int)op.Imm)), false);
        }
        else
        {
            _asm.Bt(r, (int)op.Imm, true);
            JumpTo(op.Target, zero ? Cc.AE : Cc.B);
            return;
        }

        JumpTo(op.Target, zero ? Cc.E : Cc.NE);
    }

    /// <summary>BR, BLR, RET: (BTYPE,) registers and flags to the context, then the jump cache with the target in rax.</summary>
    private void LowerIndirect(in IrInstruction op)
    {
        if (op.Imm != 0)
        {
            LowerBranchTargetType(op); // BTI: PSTATE.BTYPE first (its slow path runs the whole branch)
        }

        SyncBudget(_pending);
        _pending = 0;
        FlushFlags();
        StoreWritten();
        LoadTo(Reg.Rax, op.A, true);
        _asm.JmpAbsolute(_runtime.JumpLookup);
        _reachable = false;
    }
}

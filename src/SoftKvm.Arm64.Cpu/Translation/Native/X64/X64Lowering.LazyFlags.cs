using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// NZCV kept as the operation that set it rather than saved. After an ADDS, SUBS, ANDS, BICS, CMP, CMN or TST
/// whose operands are guest registers or constants, NZCV can be computed again from those registers (from
/// the result and the second operand where there is a result: (r + b) - b and (r - b) + b set the flags of
/// the original operation, TEST r, r those of a logical one) for as long as none of them is written. So
/// where the host flags are about to be destroyed while NZCV is live only because something may leave the
/// block (a load or store that may take the slow path or fault, a backward branch whose check may leave),
/// nothing is saved: the paths that leave compute NZCV again and save it (the slow path before calling the
/// interpreter, an exit stub, the check of a backward branch), and a later reader computes it into the host
/// flags again (one or two instructions, where reading the saved image takes three). An operation that
/// writes one of those registers first saves NZCV if it is still live; labels, helper calls and operations
/// that read NZCV otherwise end the arrangement.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    // The operation NZCV can be computed from again (-1: none), and the guest registers it reads.
    private int _lazy = -1;
    private ulong _lazyWatch;

    /// <summary>Whether NZCV is neither in the host flags nor in the image, only computable again.</summary>
    private bool LazyOnly => _eflags == IrFlags.None && !_imageValid && _lazy >= 0;

    /// <summary>After <paramref name="op"/> set the host flags: whether they can be computed again from its operands.</summary>
    private void NoteFlagSource(in IrInstruction op)
    {
        _lazy = -1;
        bool recomputable = op.Flags switch
        {
            IrFlags.Add => op.Op == IrOpcode.Add,
            IrFlags.Sub => op.Op == IrOpcode.Sub,
            IrFlags.Logic => op.Dst.Kind != IrKind.None ? op.Op is IrOpcode.And or IrOpcode.AndNot : op.Op == IrOpcode.And,
            _ => false,
        };
        if (!recomputable)
        {
            return;
        }

        ulong watch;
        if (op.Dst.Kind == IrKind.None)
        {
            if (!IsRegOrConst(op.A) || !IsRegOrConst(op.B))
            {
                return;
            }

            watch = RegMask(op.A) | RegMask(op.B);
        }
        else
        {
            bool logic = op.Flags == IrFlags.Logic;
            if (op.Dst.Kind != IrKind.Reg || (!logic && (!IsRegOrConst(op.B) || op.B.SameLocation(op.Dst))))
            {
                return;
            }

            watch = RegMask(op.Dst) | (logic ? 0 : RegMask(op.B));
        }

        _lazy = _op;
        _lazyWatch = watch;
    }

    private static bool IsRegOrConst(IrOperand o) => o.Kind is IrKind.Reg or IrKind.Const;

    private static ulong RegMask(IrOperand o) => o.Kind == IrKind.Reg ? 1UL << o.Index : 0;

    /// <summary>Before <paramref name="op"/>: if it writes a register NZCV would be computed from, NZCV is saved (if live) and the arrangement ends.</summary>
    private void EndLazyBefore(in IrInstruction op)
    {
        if (_lazy < 0)
        {
            return;
        }

        bool writes = op.Op is IrOpcode.Fallback or IrOpcode.WriteState
            || (RegMask(op.Dst) & _lazyWatch) != 0
            || (op.WritesC && (RegMask(op.C) & _lazyWatch) != 0);
        if (!writes)
        {
            return;
        }

        if (LazyOnly && _b.FlagsLiveIn[_op])
        {
            SaveLazy(_lazy);
            _eflags = IrFlags.Add; // SaveFlags made the carry ARM's
            _imageValid = true;
        }

        _lazy = -1;
    }

    /// <summary>Computes NZCV into the host flags again from operation <paramref name="source"/> (its operands unchanged).</summary>
    private void Recompute(int source)
    {
        ref IrInstruction s = ref _b.Ops[source];
        bool w = s.W64;
        if (s.Dst.Kind == IrKind.None)
        {
            if (s.Flags == IrFlags.Sub)
            {
                ApplyAlu(Alu.Cmp, InReg(s.A, Reg.Rax, w), s.B, w);
            }
            else if (s.Flags == IrFlags.Add)
            {
                LoadTo(Reg.Rax, s.A, w);
                ApplyAlu(Alu.Add, Reg.Rax, s.B, w);
            }
            else
            {
                Reg x = InReg(s.A, Reg.Rax, w);
                Loc l = Locate(s.B);
                long v = w ? l.Imm : (int)(uint)l.Imm;
                if (l.Kind == LocKind.Imm && v == (int)v)
                {
                    _asm.TestImm(x, (int)v, w);
                }
                else
                {
                    _asm.Test(x, InReg(s.B, Reg.Rcx, w), w);
                }
            }
        }
        else if (s.Flags == IrFlags.Logic)
        {
            Reg r = InReg(s.Dst, Reg.Rax, w);
            _asm.Test(r, r, w);
        }
        else
        {
            bool sub = s.Flags == IrFlags.Sub;
            LoadTo(Reg.Rax, s.Dst, w);
            ApplyAlu(sub ? Alu.Add : Alu.Sub, Reg.Rax, s.B, w);
            ApplyAlu(sub ? Alu.Cmp : Alu.Add, Reg.Rax, s.B, w);
        }

        _eflags = s.Flags;
    }

    /// <summary>NZCV computed again from <paramref name="source"/> and saved to the image (in a stub or before a write ends the arrangement).</summary>
    private void SaveLazy(int source)
    {
        Recompute(source);
        SaveFlags(_b.Ops[source].Flags);
    }

    /// <summary>The host flags hold NZCV afterwards: computed again, or read from the image.</summary>
    private void EnsureHostFlags()
    {
        if (_eflags != IrFlags.None)
        {
            return;
        }

        if (LazyOnly)
        {
            Recompute(_lazy);
        }
        else
        {
            RestoreFlags();
        }
    }

    /// <summary>
    /// Whether NZCV is live at the loop head at position <paramref name="k"/> for its own code, not only
    /// because its check may leave (<see cref="FlagLiveness"/>).
    /// </summary>
    private bool LiveInForTheBody(int k)
    {
        int i = _b.FirstOp[k];
        ref IrInstruction op = ref _b.Ops[i];
        return FlagLiveness.Uses(op) || (!FlagLiveness.Defines(op) && FlagLiveness.LiveOut(_b, i, _b.FlagsLiveIn));
    }

    /// <summary>
    /// A backward branch's own check (<see cref="StubKind.EdgeCheck"/>): the loop head's exit-request and budget
    /// check, leaving with NZCV computed again from <paramref name="stub"/>'s source, else on to the loop head.
    /// </summary>
    private void EmitEdgeCheck(Stub stub)
    {
        int k = _b.PositionOf(stub.Target);
        AsmLabel leave = _asm.NewLabel();
        _asm.AluMemImm(Alu.Cmp, Ctx(ContextOffsets.ExitRequest), 0, 4);
        _asm.Jcc(Cc.NE, leave);
        _asm.AluImm(Alu.Cmp, X64Layout.Budget, _bounds[k], true);
        _asm.Jcc(Cc.L, leave);
        _asm.Jmp(_insnLabels[k]);
        _asm.Bind(leave);
        SaveLazy(stub.Lazy);
        StoreWritten();
        ReturnToRunLoop(ExitCode(NativeExit.BackEdgeCheck, AddExit(stub.Target, chainable: false)));
    }
}

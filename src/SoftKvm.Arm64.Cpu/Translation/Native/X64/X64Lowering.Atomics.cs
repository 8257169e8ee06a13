using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// FEAT_LSE atomics inline: the address through the write TLB with the access aligned to its size (as the
/// interpreter's ResolveForAtomic: anything else, and an unaligned SP base where that is checked, runs the
/// instruction in the interpreter), then one host atomic on the guest RAM: LOCK XADD (LDADD), XCHG (SWP),
/// LOCK CMPXCHG (CAS) or a LOCK CMPXCHG loop (LDCLR, LDEOR, LDSET). As the interpreter's, they are atomic
/// against every other vCPU's atomics and stores and against exclusives (whose store is a compare-and-swap),
/// and full barriers, which covers the acquire and release forms.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private void LowerAtomic(in IrInstruction op)
    {
        PrepareClobber();
        int size = op.Size;
        AsmLabel slow = AddStub(StubKind.Slow, pending: _pending);
        EmitSpAlignmentCheck(op, slow);
        LoadTo(Reg.Rax, op.A, true); // the address is the base alone (B is the operand)
        EmitTlbCheck(store: true, total: size, size: size, unprivileged: false, slow, aligned: true);
        switch (op.Cond)
        {
            case 0 or A64IrBuilder.AtomicSwap:
                LoadTo(Reg.R11, op.B, true);
                if (op.Cond == 0)
                {
                    _asm.LockXadd(new Mem(Reg.Rax, 0), Reg.R11, size);
                }
                else
                {
                    _asm.Xchg(new Mem(Reg.Rax, 0), Reg.R11, size);
                }

                ZeroExtendFrom(Reg.R11, size);
                Commit(op.Dst, Reg.R11);
                return;
            case A64IrBuilder.AtomicCompareAndSwap:
                _asm.Mov(Reg.Rcx, Reg.Rax);
                LoadTo(Reg.Rax, op.B, true);
                LoadTo(Reg.Rdx, op.C, true);
                _asm.LockCmpxchg(new Mem(Reg.Rcx, 0), Reg.Rdx, size);
                ZeroExtendFrom(Reg.Rax, size); // the old value, of the access's size
                Commit(op.Dst, Reg.Rax);
                return;
            default:
                {
                    // rax = old; rdx = old op operand, stored if [rcx] is still old, else again with the value seen.
                    _asm.Mov(Reg.Rcx, Reg.Rax);
                    LoadTo(Reg.R11, op.B, true);
                    if (op.Cond == 1)
                    {
                        _asm.Not(Reg.R11, true); // LDCLR: old AND NOT operand
                    }

                    _asm.Load(Reg.Rax, new Mem(Reg.Rcx, 0), size);
                    AsmLabel again = _asm.NewLabel();
                    _asm.Bind(again);
                    _asm.Mov(Reg.Rdx, Reg.Rax);
                    _asm.Alu(op.Cond switch { 1 => Alu.And, 2 => Alu.Xor, _ => Alu.Or }, Reg.Rdx, Reg.R11, true);
                    _asm.LockCmpxchg(new Mem(Reg.Rcx, 0), Reg.Rdx, size);
                    _asm.Jcc(Cc.NE, again);
                    Commit(op.Dst, Reg.Rax); // zero-extended: loaded so, and a failed CMPXCHG writes only its size
                    return;
                }
        }
    }

    /// <summary>r = its low <paramref name="size"/> bytes, zero-extended.</summary>
    private void ZeroExtendFrom(Reg r, int size)
    {
        if (size < 4)
        {
            _asm.Movzx(r, r, size);
        }
        else if (size == 4)
        {
            _asm.Mov(r, r, false);
        }
    }
}

using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// FEAT_LSE atomics inline: the address through the write TLB with the access aligned to its size (as the
/// interpreter's ResolveForAtomic: anything else, and an unaligned SP base where that is checked, runs the
/// instruction in the interpreter), then one host atomic on the guest RAM: LOCK XADD (LDADD), XCHG (SWP),
/// LOCK CMPXCHG (CAS) or a LOCK CMPXCHG loop (LDCLR, LDEOR, LDSET). As the interpreter's, they are atomic
/// against every other vCPU's atomics and stores and against exclusives (whose store is a compare-and-swap),
/// and full barriers, which covers the acquire and release forms. CASP of two doublewords (no 128-bit compare-and-swap
/// in the interpreter) compares and stores under the VM's pair lock (<see cref="CpuShared.PairSpin"/>), which the
/// interpreter's CASP, LDXP and STXP of two doublewords take too.
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
        if (op.Cond == A64IrBuilder.AtomicCompareAndSwapPair)
        {
            LowerCompareAndSwapPair(op, slow);
            return;
        }

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

    /// <summary>
    /// CASP of two doublewords, the address in rax: aligned to 16 through the write TLB (else the slow path), then under the
    /// pair lock (XCHG, a full barrier, to take and to release it) the old pair read, compared with Xs, Xs+1 and replaced
    /// by Xt, Xt+1 where equal; Xs, Xs+1 = the old pair.
    /// </summary>
    private void LowerCompareAndSwapPair(in IrInstruction op, AsmLabel slow)
    {
        _asm.TestImm(Reg.Rax, 15, false);
        _asm.Jcc(Cc.NE, slow);
        EmitTlbCheck(store: true, total: 16, size: 16, unprivileged: false, slow, aligned: true);
        _asm.Mov(Reg.Rcx, Reg.Rax);
        _asm.Load(Reg.R11, Ctx(ContextOffsets.PairSpin), 8);
        AsmLabel acquire = _asm.NewLabel(), release = _asm.NewLabel();
        _asm.Bind(acquire);
        _asm.MovImm(Reg.Rax, 1);
        _asm.Xchg(new Mem(Reg.R11, 0), Reg.Rax, 4);
        _asm.Test(Reg.Rax, Reg.Rax, false);
        _asm.Jcc(Cc.NE, acquire);
        _asm.Load(Reg.Rax, new Mem(Reg.Rcx, 0), 8);
        _asm.Load(Reg.Rdx, new Mem(Reg.Rcx, 8), 8);
        _asm.Alu(Alu.Cmp, Reg.Rax, InReg(op.B, Reg.R10, true), true);
        _asm.Jcc(Cc.NE, release);
        _asm.Alu(Alu.Cmp, Reg.Rdx, InReg(op.C.Kind == IrKind.None ? IrOperand.Const(0) : op.C, Reg.R10, true), true);
        _asm.Jcc(Cc.NE, release);
        _asm.Store(new Mem(Reg.Rcx, 0), InReg(op.D, Reg.R10, true), 8);
        _asm.Store(new Mem(Reg.Rcx, 8), InReg(op.Imm == 31 ? IrOperand.Const(0) : IrOperand.Reg((int)op.Imm), Reg.R10, true), 8);
        _asm.Bind(release);
        _asm.Alu(Alu.Xor, Reg.R10, Reg.R10, false);
        _asm.Xchg(new Mem(Reg.R11, 0), Reg.R10, 4);
        Commit(op.Dst, Reg.Rax);
        Commit(op.C, Reg.Rdx);
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

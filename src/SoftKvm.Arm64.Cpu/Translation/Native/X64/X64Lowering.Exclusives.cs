using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Load and store exclusive (<see cref="IrInstruction.Exclusive"/>) on the interpreter's monitor, which
/// lives in the context (<see cref="NativeContext.ExclusiveHost"/>): the load records the host address,
/// size and value it read; the store succeeds only when the monitor holds its host address and size and
/// a <c>lock cmpxchg</c> of the recorded value for the new one succeeds (so a store by any other PE, the
/// VMM or a device that changed the value makes it fail, as in <c>LoadStoreExclusive.cs</c>), writes
/// its status and clears the monitor either way. The access is through the TLB inline and aligned to
/// its whole size (a pair of words is one doubleword): a miss or a misaligned address runs the whole
/// instruction in the interpreter, which fills the TLB or takes the fault with the same monitor.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    /// <summary>The exclusive access of <paramref name="op"/>, its guest address in rax.</summary>
    private void LowerExclusive(in IrInstruction op, AsmLabel slow)
    {
        bool store = op.Op == IrOpcode.Store;
        int bytes = op.Pair ? 2 * op.Size : op.Size;
        EmitTlbCheck(store, bytes, bytes, unprivileged: false, slow, aligned: true);
        if (store)
        {
            StoreExclusive(op, bytes);
        }
        else
        {
            LoadExclusive(op, bytes);
        }
    }

    /// <summary>rax = the host address: the value read, the monitor set, the register(s) written.</summary>
    private void LoadExclusive(in IrInstruction op, int bytes)
    {
        Reg value = op.Pair ? Reg.Rdx : DstReg(op.Dst, Reg.Rdx);
        _asm.Load(value, new Mem(Reg.Rax, 0), bytes);
        _asm.Store(Ctx(ContextOffsets.ExclusiveHost), Reg.Rax, 8);
        _asm.Store(Ctx(ContextOffsets.ExclusiveValue), value, 8);
        _asm.StoreImm(Ctx(ContextOffsets.ExclusiveSize), bytes, 4);
        if (!op.Pair)
        {
            Commit(op.Dst, value);
            return;
        }

        // A pair of words: Wt = the low word, then Wt2 = the high one (the interpreter's order).
        if (op.Dst.Kind != IrKind.None)
        {
            Reg low = DstReg(op.Dst, Reg.Rcx);
            _asm.Mov(low, Reg.Rdx, false);
            Commit(op.Dst, low);
        }

        if (op.C.Kind != IrKind.None)
        {
            Reg high = DstReg(op.C, Reg.Rdx);
            _asm.Mov(high, Reg.Rdx);
            _asm.ShiftImm(Shift.Shr, high, 32, true);
            Commit(op.C, high);
        }
    }

    /// <summary>rax = the host address: the compare-and-swap against the monitor, the status, the monitor cleared.</summary>
    private void StoreExclusive(in IrInstruction op, int bytes)
    {
        AsmLabel fail = _asm.NewLabel(), done = _asm.NewLabel();
        _asm.CmpMemReg(Ctx(ContextOffsets.ExclusiveHost), Reg.Rax, true);
        _asm.Jcc(Cc.NE, fail);
        _asm.AluMemImm(Alu.Cmp, Ctx(ContextOffsets.ExclusiveSize), bytes, 4);
        _asm.Jcc(Cc.NE, fail);
        _asm.Mov(Reg.Rcx, Reg.Rax);

        // rdx = the new value (of a pair: Wt in the low word, Wt2 in the high one).
        if (op.Pair)
        {
            Reg low = X64Layout.Temp(1);
            LoadTo(Reg.Rdx, op.D, true);
            _asm.ShiftImm(Shift.Shl, Reg.Rdx, 32, true);
            LoadTo(low, op.C, false, truncate: true);
            _asm.Alu(Alu.Or, Reg.Rdx, low, true);
        }
        else
        {
            LoadTo(Reg.Rdx, op.C, true);
        }

        _asm.Load(Reg.Rax, Ctx(ContextOffsets.ExclusiveValue), 8);
        _asm.LockCmpxchg(new Mem(Reg.Rcx, 0), Reg.Rdx, bytes);
        _asm.MovImm(Reg.Rdx, 1);
        _asm.MovImm(Reg.Rax, 0);
        _asm.Cmov(Cc.NE, Reg.Rax, Reg.Rdx, false);
        _asm.Jmp(done);
        _asm.Bind(fail);
        _asm.MovImm(Reg.Rax, 1);
        _asm.Bind(done);
        _asm.StoreImm(Ctx(ContextOffsets.ExclusiveHost), 0, 8);
        if (op.Dst.Kind != IrKind.None)
        {
            Commit(op.Dst, Reg.Rax);
        }
    }
}

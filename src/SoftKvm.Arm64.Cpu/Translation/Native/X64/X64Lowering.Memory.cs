using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Guest memory accesses through the software TLB, inline: the entry of the access's page is compared
/// with the page's tag (and, for an access that may cross into the next page, the tag of its last
/// byte, so a crossing access misses); a hit adds the entry's delta to the address. A miss, a misaligned
/// access where alignment is checked, or an SP base that is not 16-byte aligned where that is checked
/// goes to the slow path: the whole instruction in the interpreter, which fills the TLB, exits for
/// MMIO or takes the fault exactly as it would.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private const int TlbEntryShift = 4; // sizeof(TlbEntry) == 16

    private void LowerMemory(in IrInstruction op)
    {
        PrepareClobber();
        bool store = op.Op == IrOpcode.Store;
        int size = op.Size, total = op.Pair ? 2 * size : size;
        AsmLabel slow = AddStub(StubKind.Slow, pending: _pending);
        EmitSpAlignmentCheck(op, slow);
        ComputeAddress(op);
        if (op.Exclusive)
        {
            LowerExclusive(op, slow);
            return;
        }

        uint iss = AccessHelperSyndrome(op); // a miss of a single-register access: the access helper
        EmitTlbCheck(store, total, size, op.Unprivileged, iss != 0 ? AddAccessStub(iss) : slow, op.Aligned);

        // rax = the host address: the access itself.
        if (store)
        {
            StoreValue(op.C, new Mem(Reg.Rax, 0), size);
            if (op.Pair)
            {
                StoreValue(op.D, new Mem(Reg.Rax, size), size);
            }
        }
        else
        {
            LoadValue(op.Dst, new Mem(Reg.Rax, 0), op);
            if (op.Pair)
            {
                LoadValue(op.C, new Mem(Reg.Rax, size), op);
            }
        }
    }

    /// <summary>A base register SP that is not 16-byte aligned goes to <paramref name="slow"/> where the mode checks it.</summary>
    private void EmitSpAlignmentCheck(in IrInstruction op, AsmLabel slow)
    {
        if (op.SpBase && (_b.Mode & BlockMode.SpAlignCheck) != 0)
        {
            Loc sp = Locate(op.A);
            switch (sp.Kind)
            {
                case LocKind.Reg:
                    _asm.TestImm(sp.Reg, 15, false);
                    _asm.Jcc(Cc.NE, slow);
                    break;
                case LocKind.Mem:
                    _asm.TestMemImm(Ctx(sp.Disp), 15, 4);
                    _asm.Jcc(Cc.NE, slow);
                    break;
                default:
                    if ((sp.Imm & 15) != 0)
                    {
                        _asm.Jmp(slow);
                    }

                    break;
            }
        }
    }

    /// <summary>DC ZVA: the 64-byte block at A, through the write TLB, zeroed.</summary>
    private void LowerZeroBlock(in IrInstruction op)
    {
        PrepareClobber();
        AsmLabel slow = AddStub(StubKind.Slow, pending: _pending);
        LoadTo(Reg.Rax, op.A, true);
        _asm.AluImm(Alu.And, Reg.Rax, -64, true);
        EmitTlbCheck(store: true, total: 64, size: 64, unprivileged: false, slow);
        _asm.Alu(Alu.Xor, Reg.Rdx, Reg.Rdx, false);
        for (int i = 0; i < 64; i += 8)
        {
            _asm.Store(new Mem(Reg.Rax, i), Reg.Rdx, 8);
        }
    }

    /// <summary>
    /// The TLB fast path for the guest address in rax: rcx = the entry of its page, rdx = the tag the
    /// entry must hold (of the page of the access's last byte, or with alignment checked, of its last
    /// element, its low address bits kept; always so when <paramref name="aligned"/>); rax = the host
    /// address. Else to <paramref name="slow"/>.
    /// </summary>
    private void EmitTlbCheck(bool store, int total, int size, bool unprivileged, AsmLabel slow, bool aligned = false)
    {
        _asm.Mov(Reg.Rcx, Reg.Rax, false);
        _asm.ShiftImm(Shift.Shr, Reg.Rcx, 12 - TlbEntryShift, false);
        _asm.AluImm(Alu.And, Reg.Rcx, ((1 << 10) - 1) << TlbEntryShift, false);
        if ((_b.Mode & BlockMode.Unaligned) != 0 && !aligned)
        {
            // The page of the last byte: an access crossing into the next page misses.
            if (total > 1)
            {
                _asm.Lea(Reg.Rdx, new Mem(Reg.Rax, total - 1));
            }
            else
            {
                _asm.Mov(Reg.Rdx, Reg.Rax);
            }

            _asm.AluImm(Alu.And, Reg.Rdx, -4096, true);
        }
        else
        {
            // Alignment checked: the last element's address with its low bits kept (tags have bits 2:0
            // clear), so a misaligned access misses, and aligned elements never cross a page.
            if (total > size)
            {
                _asm.Lea(Reg.Rdx, new Mem(Reg.Rax, total - size));
            }
            else
            {
                _asm.Mov(Reg.Rdx, Reg.Rax);
            }

            _asm.AluImm(Alu.And, Reg.Rdx, -4096 | (size - 1), true);
        }

        _asm.AluMem(Alu.Or, Reg.Rdx, Ctx(unprivileged ? ContextOffsets.TagUnprivileged : ContextOffsets.TagEl), true);
        _asm.AluMem(Alu.Add, Reg.Rcx, Ctx(store ? ContextOffsets.WriteTlb : ContextOffsets.ReadTlb), true);
        _asm.CmpMemReg(new Mem(Reg.Rcx, 0), Reg.Rdx, true);
        _asm.Jcc(Cc.NE, slow);
        _asm.AluMem(Alu.Add, Reg.Rax, new Mem(Reg.Rcx, 8), true);
    }

    /// <summary>rax = A + (B &lt;&lt; Shift) + Imm.</summary>
    private void ComputeAddress(in IrInstruction op)
    {
        long disp = op.Imm;
        Loc index = op.B.Kind == IrKind.None ? default : Locate(op.B);
        bool hasIndex = op.B.Kind != IrKind.None;
        if (hasIndex && index.Kind == LocKind.Imm)
        {
            disp += index.Imm << op.Shift;
            hasIndex = false;
        }

        Loc a = Locate(op.A);
        Reg baseReg;
        switch (a.Kind)
        {
            case LocKind.Reg:
                baseReg = a.Reg;
                break;
            case LocKind.Mem:
                _asm.Load(Reg.Rax, Ctx(a.Disp), 8);
                baseReg = Reg.Rax;
                break;
            default:
                _asm.MovImm(Reg.Rax, (ulong)(a.Imm + disp));
                disp = 0;
                baseReg = Reg.Rax;
                break;
        }

        Reg indexReg = Reg.None;
        if (hasIndex)
        {
            indexReg = index.Kind == LocKind.Reg ? index.Reg : Reg.Rcx;
            if (index.Kind == LocKind.Mem)
            {
                _asm.Load(Reg.Rcx, Ctx(index.Disp), 8);
            }
        }

        if (disp != (int)disp)
        {
            _asm.MovImm(Reg.Rdx, (ulong)disp);
            _asm.Lea(Reg.Rax, new Mem(baseReg, 0, Reg.Rdx, 1));
            baseReg = Reg.Rax;
            disp = 0;
        }

        if (indexReg == Reg.None && baseReg == Reg.Rax && disp == 0)
        {
            return;
        }

        _asm.Lea(Reg.Rax, new Mem(baseReg, (int)disp, indexReg, (byte)(1 << op.Shift)));
    }

    private void LoadValue(IrOperand dst, Mem at, in IrInstruction op)
    {
        if (dst.Kind == IrKind.None)
        {
            return; // XZR: the access is checked, the value goes nowhere
        }

        Reg d = DstReg(dst, Reg.Rdx);
        if (op.Signed)
        {
            _asm.LoadSigned(d, at, op.Size, op.W64);
        }
        else
        {
            _asm.Load(d, at, op.Size);
        }

        Commit(dst, d);
    }

    private void StoreValue(IrOperand value, Mem at, int size)
    {
        Loc v = Locate(value);
        switch (v.Kind)
        {
            case LocKind.Reg:
                _asm.Store(at, v.Reg, size);
                break;
            case LocKind.Mem:
                _asm.Load(Reg.Rdx, Ctx(v.Disp), 8);
                _asm.Store(at, Reg.Rdx, size);
                break;
            default:
                if (size < 8 || v.Imm == (int)v.Imm)
                {
                    _asm.StoreImm(at, (int)v.Imm, size);
                }
                else
                {
                    _asm.MovImm(Reg.Rdx, (ulong)v.Imm);
                    _asm.Store(at, Reg.Rdx, size);
                }

                break;
        }
    }
}

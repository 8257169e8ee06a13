using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>Data processing: moves, ALU operations, shifts, multiply, divide, bit operations, selects.</summary>
internal sealed unsafe partial class X64Lowering
{
    private void LowerMov(in IrInstruction op)
    {
        Loc d = op.Dst.Kind == IrKind.None ? default : Locate(op.Dst);
        if (op.Dst.Kind == IrKind.None)
        {
            return;
        }

        if (d.Kind == LocKind.Reg)
        {
            LoadTo(d.Reg, op.A, op.W64, truncate: true);
            return;
        }

        Loc a = Locate(op.A);
        if (a.Kind == LocKind.Imm)
        {
            long v = op.W64 ? a.Imm : (uint)a.Imm;
            if (v == (int)v)
            {
                _asm.StoreImm(Ctx(d.Disp), (int)v, 8);
                return;
            }
        }

        LoadTo(Reg.Rax, op.A, op.W64, truncate: true);
        _asm.Store(Ctx(d.Disp), Reg.Rax, 8);
    }

    /// <summary>d op= b, with b a register, the context or an immediate.</summary>
    private void ApplyAlu(Alu alu, Reg d, IrOperand b, bool w64)
    {
        Loc l = Locate(b);
        switch (l.Kind)
        {
            case LocKind.Reg:
                _asm.Alu(alu, d, l.Reg, w64);
                break;
            case LocKind.Mem:
                _asm.AluMem(alu, d, Ctx(l.Disp), w64);
                break;
            default:
                long v = w64 ? l.Imm : (int)(uint)l.Imm;
                if (v == (int)v)
                {
                    _asm.AluImm(alu, d, (int)v, w64);
                }
                else
                {
                    _asm.MovImm(Reg.Rcx, (ulong)v);
                    _asm.Alu(alu, d, Reg.Rcx, w64);
                }

                break;
        }
    }

    private void SetFlagsFrom(in IrInstruction op)
    {
        if (op.Flags != IrFlags.None)
        {
            _eflags = op.Flags;
            _imageValid = false;
            NoteFlagSource(op);
        }
    }

    private void LowerAlu(in IrInstruction op, Alu alu, bool commutative)
    {
        PrepareClobber();
        IrOperand a = op.A, b = op.B;
        if (op.Dst.Kind == IrKind.None && op.Flags != IrFlags.None && alu is Alu.Sub or Alu.And)
        {
            // CMP, TST: compare without a result.
            Reg x = InReg(a, Reg.Rax, op.W64);
            if (alu == Alu.Sub)
            {
                ApplyAlu(Alu.Cmp, x, b, op.W64);
            }
            else
            {
                Loc l = Locate(b);
                long v = op.W64 ? l.Imm : (int)(uint)l.Imm;
                if (l.Kind == LocKind.Imm && v == (int)v)
                {
                    _asm.TestImm(x, (int)v, op.W64);
                }
                else
                {
                    _asm.Test(x, InReg(b, Reg.Rcx, op.W64), op.W64);
                }
            }

            SetFlagsFrom(op);
            return;
        }

        Reg d = DstReg(op.Dst);
        if (IsIn(b, d) && !IsIn(a, d))
        {
            if (commutative)
            {
                (a, b) = (b, a);
            }
            else
            {
                d = Reg.Rax;
            }
        }

        LoadTo(d, a, op.W64);
        ApplyAlu(alu, d, b, op.W64);
        Commit(op.Dst, d);
        SetFlagsFrom(op);
    }

    /// <summary>AND NOT, OR NOT, XOR NOT (BIC, ORN, EON; BICS sets the flags of the AND).</summary>
    private void LowerInverted(in IrInstruction op, Alu alu)
    {
        PrepareClobber();
        IrOperand notB;
        Loc lb = Locate(op.B);
        if (lb.Kind == LocKind.Imm)
        {
            notB = IrOperand.Const(~lb.Imm);
        }
        else
        {
            LoadTo(Reg.Rcx, op.B, op.W64);
            _asm.Not(Reg.Rcx, op.W64);
            notB = IrOperand.Temp(0); // placeholder: the value is in rcx
        }

        Reg d = DstReg(op.Dst);
        LoadTo(d, op.A, op.W64);
        if (lb.Kind == LocKind.Imm)
        {
            ApplyAlu(alu, d, notB, op.W64);
        }
        else
        {
            _asm.Alu(alu, d, Reg.Rcx, op.W64);
        }

        Commit(op.Dst, d);
        SetFlagsFrom(op);
    }

    /// <summary>ADC, SBC (and their flag-setting forms): the carry from NZCV into the host carry, in the sense x86 wants.</summary>
    private void LowerCarry(in IrInstruction op)
    {
        bool subtract = op.Op == IrOpcode.Sbc;
        if (op.Flags == IrFlags.None && _b.FlagsLiveIn[_op + 1])
        {
            FlushFlags(); // NZCV outlives this ADC/SBC, which destroys the host flags
        }

        EnsureHostFlags();

        // ADC wants CF = C (the Add sense); SBB wants CF = NOT C (the Sub sense).
        if ((_eflags == IrFlags.Sub) != subtract)
        {
            _asm.Cmc();
        }

        _eflags = IrFlags.None; // consumed (and destroyed below)
        Reg d = DstReg(op.Dst);
        IrOperand a = op.A, b = op.B;
        if (IsIn(b, d) && !IsIn(a, d))
        {
            if (!subtract)
            {
                (a, b) = (b, a);
            }
            else
            {
                d = Reg.Rax;
            }
        }

        // Only moves between here and the ADC/SBB: the carry must survive (an immediate needs rcx).
        LoadTo(d, a, op.W64);
        Loc l = Locate(b);
        if (l.Kind == LocKind.Imm && (op.W64 ? l.Imm : (int)(uint)l.Imm) is long v && v != (int)v)
        {
            _asm.MovImm(Reg.Rcx, (ulong)v);
            _asm.Alu(subtract ? Alu.Sbb : Alu.Adc, d, Reg.Rcx, op.W64);
        }
        else
        {
            ApplyAlu(subtract ? Alu.Sbb : Alu.Adc, d, b, op.W64);
        }

        Commit(op.Dst, d);
        if (op.Flags != IrFlags.None)
        {
            _eflags = subtract ? IrFlags.Sub : IrFlags.Add;
            _imageValid = false;
            _lazy = -1;
        }
    }

    private void LowerShift(in IrInstruction op, Shift shift)
    {
        PrepareClobber();
        Loc lb = Locate(op.B);
        if (lb.Kind == LocKind.Imm)
        {
            int amount = (int)(lb.Imm & (op.W64 ? 63 : 31));
            Reg d = DstReg(op.Dst);
            LoadTo(d, op.A, op.W64, truncate: amount == 0);
            if (amount != 0)
            {
                _asm.ShiftImm(shift, d, amount, op.W64);
            }

            Commit(op.Dst, d);
            return;
        }

        LoadTo(Reg.Rcx, op.B, op.W64);
        Reg r = DstReg(op.Dst);
        LoadTo(r, op.A, op.W64, truncate: true); // (a shift by 0 need not write the register)
        _asm.ShiftCl(shift, r, op.W64);
        Commit(op.Dst, r);
    }

    private void LowerMul(in IrInstruction op)
    {
        PrepareClobber();
        Reg d = DstReg(op.Dst);
        IrOperand a = op.A, b = op.B;
        if (IsIn(b, d) && !IsIn(a, d))
        {
            (a, b) = (b, a);
        }

        LoadTo(d, a, op.W64);
        _asm.Imul(d, InReg(b, Reg.Rcx, op.W64), op.W64);
        Commit(op.Dst, d);
    }

    private void LowerMulHigh(in IrInstruction op)
    {
        PrepareClobber();
        Reg m = InReg(op.B, Reg.Rcx, true);
        LoadTo(Reg.Rax, op.A, true);
        _asm.MulWide(m, op.Op == IrOpcode.MulHighSigned, true);
        Commit(op.Dst, Reg.Rdx);
    }

    /// <summary>UDIV, SDIV with A64's results where x86 would fault: x / 0 = 0, MIN / -1 = MIN.</summary>
    private void LowerDiv(in IrInstruction op)
    {
        PrepareClobber();
        bool signed = op.Op == IrOpcode.DivSigned, w = op.W64;
        AsmLabel zero = _asm.NewLabel(), done = _asm.NewLabel(), divide = _asm.NewLabel();
        LoadTo(Reg.Rcx, op.B, w);
        LoadTo(Reg.Rax, op.A, w);
        _asm.Test(Reg.Rcx, Reg.Rcx, w);
        _asm.Jcc(Cc.E, zero);
        if (signed)
        {
            _asm.AluImm(Alu.Cmp, Reg.Rcx, -1, w);
            _asm.Jcc(Cc.NE, divide);
            _asm.Neg(Reg.Rax, w); // x / -1 = -x, and MIN / -1 = MIN as A64 has it
            _asm.Jmp(done);
            _asm.Bind(divide);
            _asm.SignExtendRax(w);
        }
        else
        {
            _asm.Alu(Alu.Xor, Reg.Rdx, Reg.Rdx, false);
        }

        _asm.Div(Reg.Rcx, signed, w);
        _asm.Jmp(done);
        _asm.Bind(zero);
        _asm.Alu(Alu.Xor, Reg.Rax, Reg.Rax, false);
        _asm.Bind(done);
        Commit(op.Dst, Reg.Rax);
    }

    /// <summary>NEG, NOT, REV (bswap, which leaves the flags alone).</summary>
    private void LowerUnary(in IrInstruction op)
    {
        if (op.Op != IrOpcode.Rev)
        {
            PrepareClobber();
        }

        Reg d = DstReg(op.Dst);
        LoadTo(d, op.A, op.W64);
        switch (op.Op)
        {
            case IrOpcode.Neg:
                _asm.Neg(d, op.W64);
                break;
            case IrOpcode.Not:
                _asm.Not(d, op.W64);
                break;
            default:
                _asm.Bswap(d, op.W64);
                break;
        }

        Commit(op.Dst, d);
    }

    private void LowerClz(in IrInstruction op)
    {
        PrepareClobber();
        Reg s = InReg(op.A, Reg.Rcx, op.W64);
        Reg d = DstReg(op.Dst);
        _asm.Lzcnt(d, s, op.W64);
        Commit(op.Dst, d);
    }

    /// <summary>
    /// CRC32C*: the host's crc32 (SSE4.2, the same polynomial, reflection and absence of inversion).
    /// CRC32*: table slicing (<see cref="s_crcSlices"/>): with v = acc XOR data, byte i of the n bytes
    /// (i = 0 the lowest) looked up in table n - 1 - i, the lookups XORed, onto acc &gt;&gt; 8n when n &lt; 4.
    /// </summary>
    private void LowerCrc(in IrInstruction op)
    {
        PrepareClobber();
        int bytes = op.Size / 8;
        if (op.Op == IrOpcode.Crc32c)
        {
            Reg data = InReg(op.B, Reg.Rcx, bytes == 8);
            LoadTo(Reg.Rax, op.A, false, truncate: true);
            _asm.Crc32(Reg.Rax, data, bytes);
            Commit(op.Dst, Reg.Rax);
            return;
        }

        Reg acc = X64Layout.Temp(0), tables = X64Layout.Temp(1);
        LoadTo(Reg.Rdx, op.B, bytes == 8, truncate: true);
        LoadTo(Reg.Rax, op.A, false, truncate: true);
        _asm.Alu(Alu.Xor, Reg.Rax, Reg.Rdx, false);
        if (bytes < 4)
        {
            LoadTo(acc, op.A, false, truncate: true);
            _asm.ShiftImm(Shift.Shr, acc, 8 * bytes, false);
        }
        else if (bytes == 8)
        {
            _asm.ShiftImm(Shift.Shr, Reg.Rdx, 32, true);
        }

        _asm.MovImm(tables, (ulong)s_crcSlices);
        for (int i = 0; i < bytes; i++)
        {
            Reg source = i < 4 ? Reg.Rax : Reg.Rdx;
            _asm.Movzx(Reg.Rcx, source, 1);
            var entry = new Mem(tables, 4 * 256 * (bytes - 1 - i), Reg.Rcx, 4);
            if (i == 0 && bytes >= 4)
            {
                _asm.Load(acc, entry, 4);
            }
            else
            {
                _asm.AluMem(Alu.Xor, acc, entry, false);
            }

            if ((i & 3) != 3 && i != bytes - 1)
            {
                _asm.ShiftImm(Shift.Shr, source, 8, false);
            }
        }

        Commit(op.Dst, acc);
    }

    /// <summary>
    /// The eight CRC-32 slicing tables (256 words each, process-wide, never freed): table 0 is the
    /// byte table, table k gives the effect of a byte followed by k zero bytes.
    /// </summary>
    private static readonly unsafe uint* s_crcSlices = MakeCrcSlices();

    private static unsafe uint* MakeCrcSlices()
    {
        var t = (uint*)System.Runtime.InteropServices.NativeMemory.Alloc(8 * 256, sizeof(uint));
        for (int i = 0; i < 256; i++)
        {
            t[i] = Arm64Cpu.Crc32Table[i];
        }

        for (int k = 1; k < 8; k++)
        {
            for (int i = 0; i < 256; i++)
            {
                uint previous = t[((k - 1) * 256) + i];
                t[(k * 256) + i] = (previous >> 8) ^ t[previous & 0xFF];
            }
        }

        return t;
    }

    /// <summary>RBIT (bytes reversed, then the bits of each byte: nibbles, pairs, bits), REV16 (the bytes of each halfword).</summary>
    private void LowerBitSwaps(in IrInstruction op)
    {
        PrepareClobber();
        bool w = op.W64;
        Reg d = DstReg(op.Dst);
        LoadTo(d, op.A, w);
        if (op.Op == IrOpcode.Rev16)
        {
            SwapFields(d, 8, 0x00FF00FF00FF00FFUL, w);
        }
        else
        {
            _asm.Bswap(d, w);
            SwapFields(d, 4, 0x0F0F0F0F0F0F0F0FUL, w);
            SwapFields(d, 2, 0x3333333333333333UL, w);
            SwapFields(d, 1, 0x5555555555555555UL, w);
        }

        Commit(op.Dst, d);
    }

    /// <summary>d = ((d &gt;&gt; shift) AND mask) OR ((d AND mask) &lt;&lt; shift).</summary>
    private void SwapFields(Reg d, int shift, ulong mask, bool w64)
    {
        _asm.Mov(Reg.Rcx, d, w64);
        _asm.ShiftImm(Shift.Shr, Reg.Rcx, shift, w64);
        _asm.MovImm(Reg.Rdx, w64 ? mask : (uint)mask);
        _asm.Alu(Alu.And, Reg.Rcx, Reg.Rdx, w64);
        _asm.Alu(Alu.And, d, Reg.Rdx, w64);
        _asm.ShiftImm(Shift.Shl, d, shift, w64);
        _asm.Alu(Alu.Or, d, Reg.Rcx, w64);
    }

    /// <summary>SXTB/H/W, UXTB/H/W (movsx/movzx: the flags stay).</summary>
    private void LowerExtend(in IrInstruction op)
    {
        bool signed = op.Op == IrOpcode.SignExtend;
        int bytes = op.Size / 8;
        Reg d = DstReg(op.Dst);
        Loc a = Locate(op.A);
        switch (a.Kind)
        {
            case LocKind.Reg:
                if (signed)
                {
                    _asm.Movsx(d, a.Reg, bytes, op.W64);
                }
                else
                {
                    _asm.Movzx(d, a.Reg, bytes);
                }

                break;
            case LocKind.Mem:
                if (signed)
                {
                    _asm.LoadSigned(d, Ctx(a.Disp), bytes, op.W64);
                }
                else
                {
                    _asm.Load(d, Ctx(a.Disp), bytes);
                }

                break;
            default:
                ConstantFolding.TryEvaluate(op, out ulong value);
                _asm.MovImm(d, value);
                break;
        }

        Commit(op.Dst, d);
    }

    /// <summary>CSEL and friends (the increment, inversion or negation already in B): a conditional move.</summary>
    private void LowerSelect(in IrInstruction op)
    {
        if (op.Cond >= 14)
        {
            LowerMov(op with { Op = IrOpcode.Mov });
            return;
        }

        Cc cc = Condition(op.Cond);
        Reg d = DstReg(op.Dst);
        if (IsIn(op.A, d))
        {
            // d = cond ? d : b  ==  if (!cond) d = b  (a 32-bit cmov zero-extends d either way, as A64 does)
            _asm.Cmov(cc.Not(), d, InReg(op.B, Reg.Rcx, op.W64), op.W64);
        }
        else
        {
            Reg a = InReg(op.A, Reg.Rcx, op.W64);
            LoadTo(d, op.B, op.W64);
            _asm.Cmov(cc, d, a, op.W64);
        }

        Commit(op.Dst, d);
    }

    /// <summary>
    /// CCMP, CCMN: if the condition holds, the flags of the comparison, else the instruction's nzcv;
    /// either way the host flags end in the Add sense (carry = ARM's C).
    /// </summary>
    private void LowerCondCompare(in IrInstruction op)
    {
        AsmLabel otherwise = _asm.NewLabel(), done = _asm.NewLabel();
        if (op.Cond < 14)
        {
            _asm.Jcc(Condition(op.Cond).Not(), otherwise);
        }

        Reg x = InReg(op.A, Reg.Rax, op.W64);
        if (op.Flags == IrFlags.Sub)
        {
            ApplyAlu(Alu.Cmp, x, op.B, op.W64);
            _asm.Cmc();
        }
        else
        {
            if (x != Reg.Rax)
            {
                _asm.Mov(Reg.Rax, x, op.W64);
            }

            ApplyAlu(Alu.Add, Reg.Rax, op.B, op.W64);
        }

        _asm.Jmp(done);
        _asm.Bind(otherwise);
        _asm.MovImm(Reg.Rax, ImageOf((uint)op.Imm));
        _asm.Alu8Imm(Alu.Add, Reg.Rax, 0x7F);
        _asm.Sahf();
        _asm.Bind(done);
        _eflags = IrFlags.Add;
        _imageValid = false;
        _lazy = -1;
    }
}

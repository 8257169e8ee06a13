using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>C4.1.86 Data processing -- immediate and C4.1.89 Data processing -- register.</summary>
internal sealed partial class A64IrBuilder
{
    private static ulong Ones(int bits) => bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;

    private bool PcRelative(A64Op op)
    {
        long imm = ((long)((int)(_word >> 5) << 13) >> 11) | ((_word >> 29) & 3);
        ulong value = op == A64Op.Adr ? _pc + (ulong)imm : (_pc & ~0xFFFUL) + (ulong)(imm << 12);
        Move(DstX(Rd), IrOperand.Const(value));
        return true;
    }

    private bool AddSubImmediate()
    {
        bool sub = ((_word >> 30) & 1) != 0, setFlags = ((_word >> 29) & 1) != 0;
        uint sh = (_word >> 22) & 3;
        if (sh > 1)
        {
            return false;
        }

        ulong imm = ((_word >> 10) & 0xFFF) << (int)(sh * 12);
        IrOperand dst = setFlags ? DstX(Rd) : XOrSp(Rd);
        IrFlags flags = !setFlags ? IrFlags.None : sub ? IrFlags.Sub : IrFlags.Add;
        Emit(sub ? IrOpcode.Sub : IrOpcode.Add, dst, XOrSp(Rn), IrOperand.Const(imm), Sf, flags);
        return true;
    }

    private bool LogicalImmediate()
    {
        uint opc = (_word >> 29) & 3, n = (_word >> 22) & 1;
        if ((!Sf && n != 0)
            || !Arm64Cpu.DecodeBitMasks(n, (_word >> 10) & 0x3F, (_word >> 16) & 0x3F, true, Sf ? 64 : 32, out ulong imm, out _))
        {
            return false;
        }

        IrOpcode op = opc switch { 1 => IrOpcode.Or, 2 => IrOpcode.Xor, _ => IrOpcode.And };
        IrOperand dst = opc == 3 ? DstX(Rd) : XOrSp(Rd);
        Emit(op, dst, X(Rn), IrOperand.Const(imm), Sf, opc == 3 ? IrFlags.Logic : IrFlags.None);
        return true;
    }

    private bool MoveWide(A64Op op)
    {
        int hw = (int)(_word >> 21) & 3;
        if (!Sf && hw > 1)
        {
            return false;
        }

        int shift = hw * 16;
        ulong imm = (ulong)((_word >> 5) & 0xFFFF) << shift;
        ulong width = Ones(Sf ? 64 : 32);
        switch (op)
        {
            case A64Op.Movz:
                Move(DstX(Rd), IrOperand.Const(imm), Sf);
                break;
            case A64Op.Movn:
                Move(DstX(Rd), IrOperand.Const(~imm & width), Sf);
                break;
            default:
                Emit(IrOpcode.And, T0, X(Rd), IrOperand.Const(~(0xFFFFUL << shift) & width), Sf);
                Emit(IrOpcode.Or, DstX(Rd), T0, IrOperand.Const(imm), Sf);
                break;
        }

        return true;
    }

    private bool Bitfield(A64Op op)
    {
        uint n = (_word >> 22) & 1, immr = (_word >> 16) & 0x3F, imms = (_word >> 10) & 0x3F;
        if ((Sf ? 1u : 0u) != n || (!Sf && (immr > 31 || imms > 31)))
        {
            return false;
        }

        int size = Sf ? 64 : 32, r = (int)immr, s = (int)imms;
        IrOperand src = X(Rn), dst = DstX(Rd);
        if (op == A64Op.Bfm)
        {
            if (!Arm64Cpu.DecodeBitMasks(n, imms, immr, false, size, out ulong wmask, out ulong tmask))
            {
                return false;
            }

            // (dst AND NOT m) OR (ROR(src, r) AND m), m = wmask AND tmask: the two-step merge of the Arm ARM in one.
            ulong m = wmask & tmask;
            if (r != 0)
            {
                Emit(IrOpcode.Ror, T0, src, IrOperand.Const(r), Sf);
                src = T0;
            }

            Emit(IrOpcode.And, T0, src, IrOperand.Const(m), Sf);
            Emit(IrOpcode.And, T1, X(Rd), IrOperand.Const(~m & Ones(size)), Sf);
            Emit(IrOpcode.Or, dst, T0, T1, Sf);
            return true;
        }

        if (op == A64Op.Ubfm)
        {
            if (s >= r)
            {
                // UBFX / LSR: (src >> r) AND Ones(s - r + 1)
                int width = s - r + 1;
                if (r == 0)
                {
                    if (width == size)
                    {
                        Move(dst, src, Sf);
                    }
                    else
                    {
                        Emit(IrOpcode.And, dst, src, IrOperand.Const(Ones(width)), Sf);
                    }
                }
                else if (width + r == size)
                {
                    Emit(IrOpcode.Shr, dst, src, IrOperand.Const(r), Sf);
                }
                else
                {
                    Emit(IrOpcode.Shr, T0, src, IrOperand.Const(r), Sf);
                    Emit(IrOpcode.And, dst, T0, IrOperand.Const(Ones(width)), Sf);
                }
            }
            else
            {
                // UBFIZ / LSL: (src AND Ones(s + 1)) << (size - r)
                int width = s + 1, shift = size - r;
                IrOperand field = src;
                if (width + shift < size)
                {
                    Emit(IrOpcode.And, T0, src, IrOperand.Const(Ones(width)), Sf);
                    field = T0;
                }

                Emit(IrOpcode.Shl, dst, field, IrOperand.Const(shift), Sf);
            }

            return true;
        }

        // SBFM: the field's top bit (bit s of src) copied upwards, by a left shift and an arithmetic right shift.
        int left = size - 1 - s;
        if (s >= r)
        {
            if (s == size - 1)
            {
                Emit(IrOpcode.Sar, dst, src, IrOperand.Const(r), Sf); // ASR
            }
            else if (r == 0 && s is 7 or 15 or 31)
            {
                Add(new IrInstruction { Op = IrOpcode.SignExtend, Dst = dst, A = src, Size = (byte)(s + 1), W64 = Sf }); // SXTB/H/W
            }
            else
            {
                Emit(IrOpcode.Shl, T0, src, IrOperand.Const(left), Sf);
                Emit(IrOpcode.Sar, dst, T0, IrOperand.Const(left + r), Sf); // SBFX
            }
        }
        else
        {
            Emit(IrOpcode.Shl, T0, src, IrOperand.Const(left), Sf);
            Emit(IrOpcode.Sar, T0, T0, IrOperand.Const(left), Sf);
            Emit(IrOpcode.Shl, dst, T0, IrOperand.Const(size - r), Sf); // SBFIZ
        }

        return true;
    }

    private bool Extract()
    {
        uint n = (_word >> 22) & 1;
        int lsb = (int)(_word >> 10) & 0x3F, size = Sf ? 64 : 32;
        if ((Sf ? 1u : 0u) != n || (!Sf && lsb > 31))
        {
            return false;
        }

        if (lsb == 0)
        {
            Move(DstX(Rd), X(Rm), Sf);
        }
        else if (Rn == Rm)
        {
            Emit(IrOpcode.Ror, DstX(Rd), X(Rn), IrOperand.Const(lsb), Sf);
        }
        else
        {
            Emit(IrOpcode.Shr, T0, X(Rm), IrOperand.Const(lsb), Sf);
            Emit(IrOpcode.Shl, T1, X(Rn), IrOperand.Const(size - lsb), Sf);
            Emit(IrOpcode.Or, DstX(Rd), T0, T1, Sf);
        }

        return true;
    }

    /// <summary>Register m shifted by the instruction's shift type and amount (into T0 when it is shifted).</summary>
    private IrOperand ShiftedRm(uint type, int amount)
    {
        if (amount == 0)
        {
            return X(Rm);
        }

        IrOpcode shift = type switch { 0 => IrOpcode.Shl, 1 => IrOpcode.Shr, 2 => IrOpcode.Sar, _ => IrOpcode.Ror };
        Emit(shift, T0, X(Rm), IrOperand.Const(amount), Sf);
        return T0;
    }

    private bool LogicalShifted()
    {
        int amount = (int)(_word >> 10) & 0x3F;
        if (!Sf && amount > 31)
        {
            return false;
        }

        uint opc = (_word >> 29) & 3;
        bool invert = ((_word >> 21) & 1) != 0;
        IrOperand y = ShiftedRm((_word >> 22) & 3, amount);
        IrOpcode op = (opc, invert) switch
        {
            (1, false) => IrOpcode.Or,
            (1, true) => IrOpcode.OrNot,
            (2, false) => IrOpcode.Xor,
            (2, true) => IrOpcode.XorNot,
            (_, false) => IrOpcode.And,
            _ => IrOpcode.AndNot,
        };
        Emit(op, DstX(Rd), X(Rn), y, Sf, opc == 3 ? IrFlags.Logic : IrFlags.None);
        return true;
    }

    private bool AddSubShifted()
    {
        bool sub = ((_word >> 30) & 1) != 0, setFlags = ((_word >> 29) & 1) != 0;
        uint type = (_word >> 22) & 3;
        int amount = (int)(_word >> 10) & 0x3F;
        if (type == 3 || (!Sf && amount > 31))
        {
            return false;
        }

        IrOperand y = ShiftedRm(type, amount);
        IrFlags flags = !setFlags ? IrFlags.None : sub ? IrFlags.Sub : IrFlags.Add;
        Emit(sub ? IrOpcode.Sub : IrOpcode.Add, DstX(Rd), X(Rn), y, Sf, flags);
        return true;
    }

    private bool AddSubExtended()
    {
        bool sub = ((_word >> 30) & 1) != 0, setFlags = ((_word >> 29) & 1) != 0;
        int shift = (int)(_word >> 10) & 7;
        if (shift > 4 || ((_word >> 22) & 3) != 0)
        {
            return false;
        }

        uint option = (_word >> 13) & 7;
        IrOperand y = X(Rm);
        if ((option & 3) != 3)
        {
            IrOpcode extend = option >= 4 ? IrOpcode.SignExtend : IrOpcode.ZeroExtend;
            Add(new IrInstruction { Op = extend, Dst = T0, A = y, Size = (byte)(8 << (int)(option & 3)), W64 = true });
            y = T0;
        }

        if (shift != 0)
        {
            Emit(IrOpcode.Shl, T0, y, IrOperand.Const(shift), true);
            y = T0;
        }

        IrFlags flags = !setFlags ? IrFlags.None : sub ? IrFlags.Sub : IrFlags.Add;
        Emit(sub ? IrOpcode.Sub : IrOpcode.Add, setFlags ? DstX(Rd) : XOrSp(Rd), XOrSp(Rn), y, Sf, flags);
        return true;
    }

    private bool AddSubCarry()
    {
        bool sub = ((_word >> 30) & 1) != 0, setFlags = ((_word >> 29) & 1) != 0;
        IrFlags flags = !setFlags ? IrFlags.None : sub ? IrFlags.Sub : IrFlags.Add;
        Emit(sub ? IrOpcode.Sbc : IrOpcode.Adc, DstX(Rd), X(Rn), X(Rm), Sf, flags);
        return true;
    }

    private bool ConditionalCompare(A64Op op)
    {
        bool sub = op is A64Op.CcmpReg or A64Op.CcmpImm;
        IrOperand y = op is A64Op.CcmnImm or A64Op.CcmpImm ? IrOperand.Const((_word >> 16) & 31) : X(Rm);
        Add(new IrInstruction
        {
            Op = IrOpcode.CondCompare,
            A = X(Rn),
            B = y,
            Cond = (byte)((_word >> 12) & 0xF),
            Imm = _word & 0xF,
            W64 = Sf,
            Flags = sub ? IrFlags.Sub : IrFlags.Add,
        });
        return true;
    }

    private bool ConditionalSelect(A64Op op)
    {
        IrOperand m = X(Rm);
        switch (op)
        {
            case A64Op.Csinc:
                Emit(IrOpcode.Add, T0, m, IrOperand.Const(1), Sf);
                m = T0;
                break;
            case A64Op.Csinv:
                Emit(IrOpcode.Not, T0, m, IrOperand.None, Sf);
                m = T0;
                break;
            case A64Op.Csneg:
                Emit(IrOpcode.Neg, T0, m, IrOperand.None, Sf);
                m = T0;
                break;
        }

        Add(new IrInstruction { Op = IrOpcode.Select, Dst = DstX(Rd), A = X(Rn), B = m, Cond = (byte)((_word >> 12) & 0xF), W64 = Sf });
        return true;
    }

    private bool Divide(A64Op op)
    {
        Emit(op == A64Op.Udiv ? IrOpcode.DivUnsigned : IrOpcode.DivSigned, DstX(Rd), X(Rn), X(Rm), Sf);
        return true;
    }

    private bool ShiftVariable(A64Op op)
    {
        IrOpcode shift = op switch { A64Op.Lslv => IrOpcode.Shl, A64Op.Lsrv => IrOpcode.Shr, A64Op.Asrv => IrOpcode.Sar, _ => IrOpcode.Ror };
        Emit(shift, DstX(Rd), X(Rn), X(Rm), Sf);
        return true;
    }

    private bool DataProcessing1Source(A64Op op)
    {
        switch (op)
        {
            case A64Op.Rbit:
                Emit(IrOpcode.Rbit, DstX(Rd), X(Rn), IrOperand.None, Sf);
                break;
            case A64Op.Rev16:
                Emit(IrOpcode.Rev16, DstX(Rd), X(Rn), IrOperand.None, Sf);
                break;
            case A64Op.Rev32:
                if (!Sf)
                {
                    return false;
                }

                // The bytes of each word reversed: the doubleword reversed, then its words swapped.
                Emit(IrOpcode.Rev, T0, X(Rn), IrOperand.None, true);
                Emit(IrOpcode.Ror, DstX(Rd), T0, IrOperand.Const(32), true);
                break;
            case A64Op.Rev:
                Emit(IrOpcode.Rev, DstX(Rd), X(Rn), IrOperand.None, Sf);
                break;
            default:
                Emit(IrOpcode.Clz, DstX(Rd), X(Rn), IrOperand.None, Sf);
                break;
        }

        return true;
    }

    /// <summary>CRC32B/H/W/X, CRC32CB/H/W/X (the forms the handler calls UNDEFINED, and CRC-32C on a host without SSE4.2, fall back).</summary>
    private bool Crc(A64Op op)
    {
        int size = (int)(_word >> 10) & 3;
        if (Sf != (size == 3) || (op == A64Op.Crc32c && !System.Runtime.Intrinsics.X86.Sse42.IsSupported))
        {
            return false;
        }

        Add(new IrInstruction
        {
            Op = op == A64Op.Crc32 ? IrOpcode.Crc32 : IrOpcode.Crc32c, Dst = DstX(Rd), A = X(Rn), B = X(Rm), Size = (byte)(8 << size), W64 = false,
        });
        return true;
    }

    private bool DataProcessing3Source(A64Op op)
    {
        IrOperand n = X(Rn), m = X(Rm), a = X((int)(_word >> 10) & 31), dst = DstX(Rd);
        switch (op)
        {
            case A64Op.Smulh:
                Emit(IrOpcode.MulHighSigned, dst, n, m, true);
                return true;
            case A64Op.Umulh:
                Emit(IrOpcode.MulHighUnsigned, dst, n, m, true);
                return true;
            case A64Op.Madd or A64Op.Msub:
                Emit(IrOpcode.Mul, T0, n, m, Sf);
                break;
            default:
                // The 32 x 32 -> 64-bit products: both factors extended, one 64-bit multiply.
                IrOpcode extend = op is A64Op.Smaddl or A64Op.Smsubl ? IrOpcode.SignExtend : IrOpcode.ZeroExtend;
                Add(new IrInstruction { Op = extend, Dst = T0, A = n, Size = 32, W64 = true });
                Add(new IrInstruction { Op = extend, Dst = T1, A = m, Size = 32, W64 = true });
                Emit(IrOpcode.Mul, T0, T0, T1, true);
                break;
        }

        bool subtract = op is A64Op.Msub or A64Op.Smsubl or A64Op.Umsubl;
        Emit(subtract ? IrOpcode.Sub : IrOpcode.Add, dst, a, T0, Sf);
        return true;
    }
}

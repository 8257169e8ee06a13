using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.SseFloatMath;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// The MMX-register forms of the MMX, SSE and SSE2 instructions: packed integer arithmetic (the SSE2
/// lane functions applied to the low 64 bits), shifts, unpacks, packs, PSHUFW, PINSRW/PEXTRW,
/// PMOVMSKB, MOVD/MOVQ, MOVNTQ, MASKMOVQ, MOVQ2DQ/MOVDQ2Q and the MMX conversions CVTPI2PS/PD,
/// CVT(T)PS2PI, CVT(T)PD2PI. Every one (but EMMS) makes the x87-to-MMX transition (TOP = 0, all tags valid).
/// </summary>
internal static unsafe class Mmx
{
    private static bool IsMm(Register r) => r >= Register.MM0 && r <= Register.MM7;

    /// <summary>Reads an mm register or a memory operand of its Iced size (m64, or m32 for PUNPCKL*).</summary>
    private static bool ReadSource(X86Cpu c, ref Instruction i, int op, out ulong v)
    {
        if (i.GetOpKind(op) == OpKind.Register)
        {
            var r = i.GetOpRegister(op);
            v = IsMm(r) ? c.Mm(r) : c.GetReg(r);
            return true;
        }

        return c.Read(X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), X86Cpu.OpSize(ref i, op), out v);
    }

    /// <summary>PADD*, PSUB*, PCMP*, PMIN/PMAX, PAVG, PSADBW, PMUL*, PMADDWD, logic, PUNPCK*, PACK* on mm, mm/m64.</summary>
    public static void Binary(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck() || !ReadSource(c, ref i, 1, out ulong b))
        {
            return;
        }

        var m = i.Mnemonic;
        var f = SseInteger.LaneFunction(m);
        ulong a = c.Mm(i.Op0Register);
        ulong r = m switch
        {
            Mnemonic.Punpckhbw or Mnemonic.Punpckhwd or Mnemonic.Punpckhdq => f(new XmmRegister(a >> 32, 0), new XmmRegister(b >> 32, 0)).Lo,
            Mnemonic.Packsswb or Mnemonic.Packuswb or Mnemonic.Packssdw => f(new XmmRegister(a, b), default).Lo,
            _ => f(new XmmRegister(a, 0), new XmmRegister(b, 0)).Lo,
        };
        c.MmxTransition();
        c.SetMm(i.Op0Register, r);
    }

    /// <summary>PSLL/PSRL/PSRA W/D/Q mm, imm8 or mm/m64.</summary>
    public static void Shift(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck())
        {
            return;
        }

        ulong count;
        if (i.Op1Kind == OpKind.Immediate8)
        {
            count = i.Immediate8;
        }
        else if (!ReadSource(c, ref i, 1, out count))
        {
            return;
        }

        ulong r = SseInteger.ShiftOp(i.Mnemonic, new XmmRegister(c.Mm(i.Op0Register), 0), count).Lo;
        c.MmxTransition();
        c.SetMm(i.Op0Register, r);
    }

    /// <summary>PSHUFW mm, mm/m64, imm8.</summary>
    public static void Pshufw(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck() || !ReadSource(c, ref i, 1, out ulong s))
        {
            return;
        }

        ulong r = SseInteger.ShuffleWords(s, i.Immediate8);
        c.MmxTransition();
        c.SetMm(i.Op0Register, r);
    }

    /// <summary>PINSRW mm, r32/m16, imm8.</summary>
    public static void Pinsrw(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck() || !c.ReadOp(ref i, 1, 2, out ulong v))
        {
            return;
        }

        ulong r = SseMove.InsertWord(c.Mm(i.Op0Register), i.Immediate8 & 3, v);
        c.MmxTransition();
        c.SetMm(i.Op0Register, r);
    }

    /// <summary>PEXTRW r32, mm, imm8 and PMOVMSKB r32, mm (zero-extended).</summary>
    public static void ToGpr(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck())
        {
            return;
        }

        ulong s = c.Mm(i.Op1Register);
        ulong r = i.Mnemonic == Mnemonic.Pextrw ? SseMove.ExtractWord(s, i.Immediate8 & 3) : SseMove.ByteSigns(s);
        c.MmxTransition();
        c.SetReg(i.Op0Register, r);
    }

    /// <summary>MOVD/MOVQ mm, r/m; MOVD/MOVQ r/m, mm; MOVQ mm, mm/m64; MOVQ mm/m64, mm; MOVNTQ m64, mm.</summary>
    public static void Move(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck())
        {
            return;
        }

        int size = i.Mnemonic == Mnemonic.Movd ? 4 : 8;
        if (i.Op0Kind == OpKind.Register && IsMm(i.Op0Register))
        {
            if (!ReadSource(c, ref i, 1, out ulong v))
            {
                return;
            }

            c.MmxTransition();
            c.SetMm(i.Op0Register, v & X86Cpu.SizeMask(size));
            return;
        }

        if (!c.WriteOp(ref i, 0, size, c.Mm(i.Op1Register) & X86Cpu.SizeMask(size)))
        {
            return;
        }

        c.MmxTransition();
    }

    /// <summary>MASKMOVQ mm1, mm2: the bytes of mm1 whose mask byte in mm2 has bit 7 set go to DS:rDI.</summary>
    public static void Maskmovq(X86Cpu c, ref Instruction i)
    {
        if (!c.MmxCheck())
        {
            return;
        }

        if (SseMove.MaskedStore(c, ref i, new XmmRegister(c.Mm(i.Op1Register), 0), new XmmRegister(c.Mm(i.Op2Register), 0), 8))
        {
            c.MmxTransition();
        }
    }

    /// <summary>MOVQ2DQ xmm, mm and MOVDQ2Q mm, xmm (SSE2: the SSE availability rules plus a pending-x87 #MF).</summary>
    public static void CrossMove(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable() || !c.MmxCheck())
        {
            return;
        }

        c.MmxTransition();
        if (i.Mnemonic == Mnemonic.Movq2dq)
        {
            c.Xmm(i.Op0Register) = new XmmRegister(c.Mm(i.Op1Register), 0);
        }
        else
        {
            c.SetMm(i.Op0Register, c.Xmm(i.Op1Register).Lo);
        }
    }

    /// <summary>CVTPI2PS/CVTPI2PD xmm, mm/m64 and CVT(T)PS2PI mm, xmm/m64, CVT(T)PD2PI mm, xmm/m128 (MXCSR rounding,
    /// the integer indefinite); the MMX transition happens when an mm register is an operand (not for a memory source).</summary>
    public static void Convert(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        var m = i.Mnemonic;
        bool toFloat = m is Mnemonic.Cvtpi2ps or Mnemonic.Cvtpi2pd;
        bool mmOperand = !toFloat || i.Op1Kind == OpKind.Register;
        if (mmOperand && !c.MmxCheck())
        {
            return;
        }

        uint mx = c.Mxcsr, flags = 0;
        if (toFloat)
        {
            if (!ReadSource(c, ref i, 1, out ulong s))
            {
                return;
            }

            int lo = (int)s, hi = (int)(s >> 32);
            ref var d = ref c.Xmm(i.Op0Register);
            XmmRegister r = d;
            if (m == Mnemonic.Cvtpi2ps)
            {
                r.Lo = Finish32(lo, 0, mx, ref flags) | ((ulong)Finish32(hi, 0, mx, ref flags) << 32);
            }
            else
            {
                r = new XmmRegister(BitConverter.DoubleToUInt64Bits(lo), BitConverter.DoubleToUInt64Bits(hi));
            }

            if (!c.SimdExceptions(flags))
            {
                return;
            }

            if (mmOperand)
            {
                c.MmxTransition();
            }

            d = r;
            return;
        }

        bool dbl = m is Mnemonic.Cvtpd2pi or Mnemonic.Cvttpd2pi;
        bool trunc = m is Mnemonic.Cvttps2pi or Mnemonic.Cvttpd2pi;
        XmmRegister src;
        if (dbl)
        {
            if (!c.ReadXmmOperand(ref i, 1, true, out src))
            {
                return;
            }
        }
        else
        {
            if (!c.ReadScalarOperand(ref i, 1, 8, out ulong s))
            {
                return;
            }

            src = new XmmRegister(s, 0);
        }

        ulong r0, r1;
        if (dbl)
        {
            r0 = ToInt(IntegerSource<Binary64, ulong>(src.Lo, mx), 32, trunc, mx, ref flags);
            r1 = ToInt(IntegerSource<Binary64, ulong>(src.Hi, mx), 32, trunc, mx, ref flags);
        }
        else
        {
            r0 = ToInt(IntegerSource<Binary32, uint>((uint)src.Lo, mx), 32, trunc, mx, ref flags);
            r1 = ToInt(IntegerSource<Binary32, uint>((uint)(src.Lo >> 32), mx), 32, trunc, mx, ref flags);
        }

        if (!c.SimdExceptions(flags))
        {
            return;
        }

        c.MmxTransition();
        c.SetMm(i.Op0Register, (r0 & 0xFFFFFFFF) | (r1 << 32));
    }
}

using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.X87Math;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// x87 arithmetic (FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR with their P and I forms, FSQRT), compares (FCOM,
/// FUCOM, FICOM, FCOMI, FUCOMI and popping forms, FTST), FCHS, FABS, FRNDINT, FXAM, FCMOVcc.
/// Arithmetic is computed on the 80-bit values (<see cref="X87Extended"/>) and rounded once with FCW.PC and
/// FCW.RC; compares and FRNDINT are exact.
/// </summary>
internal static class X87Arithmetic
{
    /// <summary>Resolves the operands of a two-operand arithmetic form: destination stack index and the two values.</summary>
    private static bool Operands(X86Cpu c, ref Instruction i, out int dest, out Float80 a, out Float80 b, ref uint flags)
    {
        dest = 0;
        a = b = default;
        int src;
        if (i.Op0Kind == OpKind.Memory)
        {
            if (!X87LoadStore.ReadMemory(c, ref i, out b, ref flags))
            {
                return false;
            }

            src = -1;
        }
        else if (i.OpCount >= 2)
        {
            dest = i.Op0Register - Register.ST0;
            src = i.Op1Register - Register.ST0;
        }
        else
        {
            // FADDP with no operands is FADDP ST(1), ST(0).
            dest = 1;
            src = 0;
        }

        bool empty = !c.StValid(dest) || (src >= 0 && !c.StValid(src));
        if (empty)
        {
            // A stack fault takes precedence over the memory operand's own exceptions.
            flags = 0;
            if (!c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                return false;
            }

            a = b = Indefinite;
            return true;
        }

        a = c.St(dest);
        if (src >= 0)
        {
            b = c.St(src);
        }

        return true;
    }

    /// <summary>The x87 NaN rule: an SNaN signals IE; two NaNs give the one with the larger significand.</summary>
    private static bool PropagateNaN(Float80 a, Float80 b, out Float80 r, ref uint flags)
    {
        bool an = IsNaN(a), bn = IsNaN(b);
        if (!an && !bn)
        {
            r = default;
            return false;
        }

        if (IsSNaN(a) || IsSNaN(b))
        {
            flags |= SseFloatMath.IE;
        }

        r = an && bn ? ((a.Significand << 1) >= (b.Significand << 1) ? a : b) : an ? a : b;
        r = Quiet(r);
        return true;
    }

    /// <summary>Computes op on two 80-bit values with FCW precision and rounding control.</summary>
    private static Float80 Compute(X86Cpu c, FpOp op, Float80 a, Float80 b, ref uint flags) => Compute(c, op, a, b, ref flags, out _);

    private static Float80 Compute(X86Cpu c, FpOp op, Float80 a, Float80 b, ref uint flags, out bool roundedUp)
    {
        roundedUp = false;
        if (PropagateNaN(a, b, out var nan, ref flags))
        {
            return nan;
        }

        if (IsUnsupported(a) || IsUnsupported(b))
        {
            flags |= SseFloatMath.IE;
            return Indefinite;
        }

        int fcw = c.Fpu.Fcw;
        int wrap = (c.X87OverflowUnmasked ? 1 : 0) | (c.X87UnderflowUnmasked ? 2 : 0);
        return X87Extended.Compute(op, a, b, (fcw >> 8) & 3, (fcw >> 10) & 3, wrap, ref flags, out roundedUp);
    }

    /// <summary>FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in every form (m32fp, m64fp, m16int, m32int, ST(0),ST(i), ST(i),ST(0), P forms).</summary>
    public static void Arith(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        uint flags = 0;
        if (!Operands(c, ref i, out int dest, out var a, out var b, ref flags))
        {
            return;
        }

        var m = i.Mnemonic;
        FpOp op = m switch
        {
            Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd => FpOp.Add,
            Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub or Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr => FpOp.Sub,
            Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul => FpOp.Mul,
            _ => FpOp.Div,
        };
        bool reverse = m is Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr or Mnemonic.Fdivr or Mnemonic.Fdivrp or Mnemonic.Fidivr;
        bool pop = m is Mnemonic.Faddp or Mnemonic.Fsubp or Mnemonic.Fsubrp or Mnemonic.Fmulp or Mnemonic.Fdivp or Mnemonic.Fdivrp;
        if (IsNaN(a) || IsNaN(b))
        {
            flags &= ~SseFloatMath.DE; // a NaN operand takes precedence over a denormal one
        }

        bool up;
        Float80 r = reverse ? Compute(c, op, b, a, ref flags, out up) : Compute(c, op, a, b, ref flags, out up);
        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.St(dest) = r;
        c.SetStValid(dest, true);
        c.SetC1(up);
        if (pop)
        {
            c.FpuPop();
        }
    }

    /// <summary>FSQRT, FCHS, FABS, FRNDINT on ST(0).</summary>
    public static void Unary(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        uint flags = 0;
        bool up = false;
        Float80 v = c.St(0), r;
        if (!c.StValid(0))
        {
            if (!c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                return;
            }

            c.St(0) = Indefinite;
            c.SetStValid(0, true);
            return;
        }

        switch (i.Mnemonic)
        {
            case Mnemonic.Fchs:
                r = v;
                r.SignExponent ^= 0x8000;
                break;
            case Mnemonic.Fabs:
                r = v;
                r.SignExponent &= 0x7FFF;
                break;
            case Mnemonic.Fsqrt:
                r = Compute(c, FpOp.Sqrt, v, v, ref flags, out up);
                break;
            default:
                r = RoundToIntegerValue(v, (c.Fpu.Fcw >> 10) & 3, ref flags, out up);
                break;
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.St(0) = r;
        c.SetStValid(0, true);
        c.SetC1(up);
    }

    private static Float80 RoundToIntegerValue(Float80 v, int rc, ref uint flags, out bool roundedUp)
    {
        roundedUp = false;
        if (IsNaN(v))
        {
            if (IsSNaN(v))
            {
                flags |= SseFloatMath.IE;
            }

            return Quiet(v);
        }

        if (IsInfinity(v) || IsZero(v))
        {
            return v;
        }

        if (IsUnsupported(v))
        {
            flags |= SseFloatMath.IE;
            return Indefinite;
        }

        if (!RoundToInteger(v, rc, out bool negative, out UInt128 mag, out bool inexact, out roundedUp))
        {
            return v; // |v| >= 2^64: already an integer
        }

        if (inexact)
        {
            flags |= SseFloatMath.PE;
        }

        return FromMagnitude(negative, mag);
    }

    /// <summary>FCOM/FCOMP/FCOMPP/FUCOM/FUCOMP/FUCOMPP/FICOM/FICOMP (C3, C2, C0), FCOMI/FCOMIP/FUCOMI/FUCOMIP (ZF, PF, CF), FTST.</summary>
    public static void Compare(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        var m = i.Mnemonic;
        uint flags = 0;
        Float80 a = c.St(0), b;
        bool empty = !c.StValid(0);
        if (m == Mnemonic.Ftst)
        {
            b = Make(false, 0, 0);
        }
        else if (i.Op0Kind == OpKind.Memory)
        {
            if (!X87LoadStore.ReadMemory(c, ref i, out b, ref flags))
            {
                return;
            }
        }
        else
        {
            int k = i.OpCount >= 2 ? i.Op1Register - Register.ST0 : 1;
            b = c.St(k);
            empty |= !c.StValid(k);
        }

        bool unordered = empty || IsNaN(a) || IsNaN(b) || IsUnsupported(a) || IsUnsupported(b);
        if (unordered)
        {
            flags &= ~SseFloatMath.DE;
        }

        bool quiet = m is Mnemonic.Fucom or Mnemonic.Fucomp or Mnemonic.Fucompp or Mnemonic.Fucomi or Mnemonic.Fucomip;
        bool suppressed = false;
        if (empty)
        {
            // Reported here (with SF); the condition codes still say "unordered", masked or not.
            flags = 0;
            suppressed = !c.X87Exceptions(SseFloatMath.IE, stack: true);
        }
        else if (unordered && (!quiet || IsSNaN(a) || IsSNaN(b) || IsUnsupported(a) || IsUnsupported(b)))
        {
            flags |= SseFloatMath.IE;
        }
        else if (!unordered && (IsDenormal(a) || IsDenormal(b)))
        {
            flags |= SseFloatMath.DE;
        }

        // An unmasked invalid operation still reports "unordered" but does not pop.
        suppressed |= !c.X87Exceptions(flags);
        if (suppressed && (flags & SseFloatMath.IE) == 0 && !empty)
        {
            return;
        }

        int order = unordered ? 2 : X87Math.Compare(a, b);
        if (m is Mnemonic.Fcomi or Mnemonic.Fcomip or Mnemonic.Fucomi or Mnemonic.Fucomip)
        {
            c.SetCompareFlags(order);
            c.Fpu.Fsw &= unchecked((ushort)~X86Cpu.FswC1);
        }
        else
        {
            ushort cc = order switch
            {
                2 => X86Cpu.FswC3 | X86Cpu.FswC2 | X86Cpu.FswC0,
                -1 => X86Cpu.FswC0,
                0 => X86Cpu.FswC3,
                _ => 0,
            };
            c.Fpu.Fsw = (ushort)((c.Fpu.Fsw & ~(X86Cpu.FswC3 | X86Cpu.FswC2 | X86Cpu.FswC1 | X86Cpu.FswC0)) | cc);
        }

        int pops = suppressed ? 0 : m is Mnemonic.Fcompp or Mnemonic.Fucompp ? 2
            : m is Mnemonic.Fcomp or Mnemonic.Fucomp or Mnemonic.Ficomp or Mnemonic.Fcomip or Mnemonic.Fucomip ? 1 : 0;
        for (int k = 0; k < pops; k++)
        {
            c.FpuPop();
        }
    }

    /// <summary>FXAM: classifies ST(0) into C3, C2, C0 with the sign in C1 (empty: C3 and C0).</summary>
    public static void Fxam(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        Float80 v = c.St(0);
        ushort cc;
        if (!c.StValid(0))
        {
            cc = X86Cpu.FswC3 | X86Cpu.FswC0;
        }
        else if (IsUnsupported(v))
        {
            cc = 0;
        }
        else if (IsNaN(v))
        {
            cc = X86Cpu.FswC0;
        }
        else if (IsInfinity(v))
        {
            cc = X86Cpu.FswC2 | X86Cpu.FswC0;
        }
        else if (IsZero(v))
        {
            cc = X86Cpu.FswC3;
        }
        else if (IsDenormal(v))
        {
            cc = X86Cpu.FswC3 | X86Cpu.FswC2;
        }
        else
        {
            cc = X86Cpu.FswC2;
        }

        if (IsNegative(v))
        {
            cc |= X86Cpu.FswC1;
        }

        c.Fpu.Fsw = (ushort)((c.Fpu.Fsw & ~(X86Cpu.FswC3 | X86Cpu.FswC2 | X86Cpu.FswC1 | X86Cpu.FswC0)) | cc);
    }

    /// <summary>FCMOVcc ST(0), ST(i) (B, E, BE, U and their negations, on CF/ZF/PF).</summary>
    public static void Fcmov(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        ulong f = c.Regs.Rflags;
        bool cf = (f & Rflags.CF) != 0, zf = (f & Rflags.ZF) != 0, pf = (f & Rflags.PF) != 0;
        bool cond = i.Mnemonic switch
        {
            Mnemonic.Fcmovb => cf,
            Mnemonic.Fcmove => zf,
            Mnemonic.Fcmovbe => cf || zf,
            Mnemonic.Fcmovu => pf,
            Mnemonic.Fcmovnb => !cf,
            Mnemonic.Fcmovne => !zf,
            Mnemonic.Fcmovnbe => !cf && !zf,
            _ => !pf,
        };
        int k = i.Op1Register - Register.ST0;
        if (!c.StValid(0) || !c.StValid(k))
        {
            // A stack underflow stores the indefinite whatever the condition (as the hardware does).
            if (c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                c.St(0) = Indefinite;
                c.SetStValid(0, true);
            }

            return;
        }

        if (cond)
        {
            c.St(0) = c.St(k);
        }
    }
}

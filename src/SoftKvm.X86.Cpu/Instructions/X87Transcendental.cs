using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.X87Math;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// x87 transcendental instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1),
/// computed with the host's double-precision math library: a documented deviation (the hardware
/// computes on 64-bit significands; results here may differ in the last bits of a double, and the
/// argument reduction of FSIN/FCOS/FPTAN is the library's, not the hardware's 66-bit pi).
/// Arguments with |x| >= 2^63 leave ST(0) unchanged and set C2, as the hardware does.
/// </summary>
internal static class X87Transcendental
{
    /// <summary>ST(0) for a one-operand instruction; an empty ST(0) is a stack underflow (masked: the indefinite).</summary>
    private static bool Operand(X86Cpu c, out Float80 st0)
    {
        st0 = c.St(0);
        if (c.StValid(0))
        {
            return true;
        }

        if (c.X87Exceptions(SseFloatMath.IE, stack: true))
        {
            c.St(0) = Indefinite;
            c.SetStValid(0, true);
        }

        return false;
    }

    private static Float80 Result(double r, ref uint flags)
    {
        if (double.IsNaN(r))
        {
            flags |= SseFloatMath.IE;
            return Indefinite;
        }

        flags |= SseFloatMath.PE;
        return FromDouble(r);
    }

    private static bool NaNOperand(Float80 a, Float80 b, bool two, out Float80 r, ref uint flags)
    {
        bool an = IsNaN(a), bn = two && IsNaN(b);
        if (!an && !bn)
        {
            r = default;
            return false;
        }

        if (IsSNaN(a) || (two && IsSNaN(b)))
        {
            flags |= SseFloatMath.IE;
        }

        r = Quiet(an && bn ? ((a.Significand << 1) >= (b.Significand << 1) ? a : b) : an ? a : b);
        return true;
    }

    /// <summary>FSIN, FCOS, FSINCOS, FPTAN.</summary>
    public static void Trig(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        var m = i.Mnemonic;
        bool pushes = m is Mnemonic.Fsincos or Mnemonic.Fptan;
        if (!Operand(c, out var a))
        {
            return;
        }

        uint flags = 0;
        Float80 r0, pushed = default;
        if (NaNOperand(a, a, false, out var nan, ref flags))
        {
            r0 = pushed = nan;
        }
        else if (IsInfinity(a) || IsUnsupported(a))
        {
            flags |= SseFloatMath.IE;
            r0 = pushed = Indefinite;
        }
        else if (Exponent(a) >= Bias + 63)
        {
            c.Fpu.Fsw |= X86Cpu.FswC2; // out of range: the operand is left for the program to reduce
            return;
        }
        else
        {
            double x = ToDouble(a, out _);
            switch (m)
            {
                case Mnemonic.Fsin:
                    r0 = IsZero(a) ? a : Result(Math.Sin(x), ref flags);
                    break;
                case Mnemonic.Fcos:
                    r0 = Result(Math.Cos(x), ref flags);
                    break;
                case Mnemonic.Fsincos:
                    r0 = IsZero(a) ? a : Result(Math.Sin(x), ref flags);
                    pushed = Result(Math.Cos(x), ref flags);
                    break;
                default:
                    r0 = IsZero(a) ? a : Result(Math.Tan(x), ref flags);
                    pushed = Make(false, Bias, 1UL << 63);
                    break;
            }
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.Fpu.Fsw &= unchecked((ushort)~(X86Cpu.FswC2 | X86Cpu.FswC1));
        c.St(0) = r0;
        if (pushes)
        {
            c.FpuPush(pushed);
        }
    }

    /// <summary>FPATAN (ST(1) = atan2(ST(1), ST(0)), pop), FYL2X (ST(1) * log2(ST(0)), pop), FYL2XP1 (ST(1) * log2(ST(0) + 1), pop).</summary>
    public static void Binary(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        if (!c.StValid(0) || !c.StValid(1))
        {
            if (c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                c.St(1) = Indefinite;
                c.SetStValid(1, true);
                c.FpuPop();
            }

            return;
        }

        Float80 a = c.St(0), b = c.St(1);

        uint flags = 0;
        Float80 r;
        if (NaNOperand(a, b, true, out var nan, ref flags))
        {
            r = nan;
        }
        else if (IsUnsupported(a) || IsUnsupported(b))
        {
            flags |= SseFloatMath.IE;
            r = Indefinite;
        }
        else
        {
            double x = ToDouble(a, out _), y = ToDouble(b, out _);
            switch (i.Mnemonic)
            {
                case Mnemonic.Fpatan:
                    r = Result(Math.Atan2(y, x), ref flags);
                    break;
                case Mnemonic.Fyl2x:
                    if (x < 0 || (x == 0 && y == 0) || (double.IsInfinity(y) && x == 1))
                    {
                        flags |= SseFloatMath.IE;
                        r = Indefinite;
                    }
                    else if (x == 0)
                    {
                        flags |= SseFloatMath.ZE;
                        r = FromDouble(y > 0 ? double.NegativeInfinity : double.PositiveInfinity);
                    }
                    else
                    {
                        r = Result(y * Math.Log2(x), ref flags);
                    }

                    break;
                default:
                    r = Result(y * Math.Log(1 + x) / Math.Log(2), ref flags);
                    break;
            }
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.St(1) = r;
        c.SetC1(false);
        c.FpuPop();
    }

    /// <summary>F2XM1: ST(0) = 2^ST(0) - 1 (defined for -1 &lt;= ST(0) &lt;= 1).</summary>
    public static void F2xm1(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false) || !Operand(c, out var a))
        {
            return;
        }

        uint flags = 0;
        Float80 r;
        if (NaNOperand(a, a, false, out var nan, ref flags))
        {
            r = nan;
        }
        else if (IsUnsupported(a))
        {
            flags |= SseFloatMath.IE;
            r = Indefinite;
        }
        else if (IsZero(a))
        {
            r = a;
        }
        else
        {
            double x = ToDouble(a, out _);
            r = Result(double.IsNegativeInfinity(x) ? -1.0 : Math.Pow(2, x) - 1, ref flags);
        }

        if (c.X87Exceptions(flags))
        {
            c.St(0) = r;
            c.SetC1(false);
        }
    }
}

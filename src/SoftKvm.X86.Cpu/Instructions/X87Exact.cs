using System.Numerics;
using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.X87Math;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// The x87 instructions whose results are exact on the 80-bit values: FPREM/FPREM1 (partial remainder,
/// quotient bits in C0/C3/C1, C2 = incomplete), FSCALE and FXTRACT. Computed with 128-bit integer
/// arithmetic, not through double precision.
/// </summary>
internal static class X87Exact
{
    /// <summary>Normalizes a finite nonzero value to m * 2^(e - Bias - 63) with bit 63 of m set.</summary>
    private static void Normalize(Float80 v, out int e, out ulong m)
    {
        e = Exponent(v);
        m = v.Significand;
        if (e == 0)
        {
            e = 1;
        }

        int lz = BitOperations.LeadingZeroCount(m);
        m <<= lz;
        e -= lz;
    }

    /// <summary>Builds m * 2^(e - Bias - 63) (m nonzero, exactly representable), denormal when e is below 1.</summary>
    private static Float80 Compose(bool negative, int e, UInt128 magnitude)
    {
        int hi = 127 - (int)UInt128.LeadingZeroCount(magnitude);
        int shift = hi - 63;
        ulong m = (ulong)(shift >= 0 ? magnitude >> shift : magnitude << -shift);
        e += shift;
        if (e < 1)
        {
            int s = 1 - e;
            m = s >= 64 ? 0 : m >> s;
            e = 0;
        }

        return Make(negative, e, m);
    }

    /// <summary>FPREM (truncating quotient) and FPREM1 (IEEE, round-to-nearest quotient).</summary>
    public static void Fprem(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        bool ieee = i.Mnemonic == Mnemonic.Fprem1;
        const ushort cc = X86Cpu.FswC3 | X86Cpu.FswC2 | X86Cpu.FswC1 | X86Cpu.FswC0;
        ref var f = ref c.Fpu;
        if (!c.StValid(0) || !c.StValid(1))
        {
            // Stack fault: C2 (and C1) cleared, C0 and C3 left as they were (undefined in the SDM; the hardware keeps them).
            f.Fsw &= unchecked((ushort)~X86Cpu.FswC2);
            if (c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                c.St(0) = Indefinite;
                c.SetStValid(0, true);
            }

            return;
        }

        Float80 a = c.St(0), b = c.St(1);
        uint flags = 0;
        Float80 result;
        int quotient = 0;
        bool incomplete = false, special = false;
        if (IsNaN(a) || IsNaN(b))
        {
            flags |= IsSNaN(a) || IsSNaN(b) ? SseFloatMath.IE : 0;
            result = Quiet(IsNaN(a) ? a : b);
            special = true;
        }
        else if (IsInfinity(a) || IsZero(b) || IsUnsupported(a) || IsUnsupported(b))
        {
            flags |= SseFloatMath.IE;
            result = Indefinite;
            special = true;
        }
        else if (IsZero(a) || IsInfinity(b))
        {
            result = a;
        }
        else
        {
            if (IsDenormal(a) || IsDenormal(b))
            {
                flags |= SseFloatMath.DE;
            }

            Normalize(a, out int ea, out ulong ma);
            Normalize(b, out int eb, out ulong mb);
            bool negative = IsNegative(a);
            int d = ea - eb;
            if (d >= 64)
            {
                // Partial remainder: reduce the exponent difference by N = 63 (the SDM leaves N in 32..63).
                const int n = 63;
                UInt128 r = ((UInt128)ma << n) % mb;
                incomplete = true;
                result = r == 0 ? Make(negative, 0, 0) : Compose(negative, eb + d - n, r);
            }
            else if (d < 0 && !(ieee && d == -1))
            {
                result = a;
            }
            else
            {
                UInt128 num = d >= 0 ? (UInt128)ma << d : ma;
                UInt128 den = d >= 0 ? mb : (UInt128)mb << 1; // d = -1: compare against b at a's scale
                int scaleE = d >= 0 ? eb : ea;
                UInt128 q = num / den, r = num % den;
                if (ieee && (r * 2 > den || (r * 2 == den && (q & 1) != 0)))
                {
                    r = den - r;
                    q++;
                    negative = !negative;
                }

                quotient = (int)(q & 7);
                result = r == 0 ? Make(IsNegative(a), 0, 0) : Compose(negative, scaleE, r);
            }
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.St(0) = result;
        if (special)
        {
            f.Fsw &= unchecked((ushort)~X86Cpu.FswC2);
            return;
        }

        ushort bits = 0;
        if (incomplete)
        {
            bits = X86Cpu.FswC2;
        }
        else
        {
            bits |= (quotient & 4) != 0 ? X86Cpu.FswC0 : (ushort)0;
            bits |= (quotient & 2) != 0 ? X86Cpu.FswC3 : (ushort)0;
            bits |= (quotient & 1) != 0 ? X86Cpu.FswC1 : (ushort)0;
        }

        f.Fsw = (ushort)((f.Fsw & ~cc) | bits);
    }

    /// <summary>FSCALE: ST(0) * 2^trunc(ST(1)), exact unless the result leaves the 80-bit range.</summary>
    public static void Fscale(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        if (!c.StValid(0) || !c.StValid(1))
        {
            if (c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                c.St(0) = Indefinite;
                c.SetStValid(0, true);
            }

            return;
        }

        Float80 a = c.St(0), b = c.St(1), result;
        uint flags = 0;
        if (IsNaN(a) || IsNaN(b))
        {
            flags |= IsSNaN(a) || IsSNaN(b) ? SseFloatMath.IE : 0;
            result = Quiet(IsNaN(a) ? a : b);
        }
        else if (IsUnsupported(a) || IsUnsupported(b))
        {
            flags |= SseFloatMath.IE;
            result = Indefinite;
        }
        else if (IsInfinity(b))
        {
            bool up = !IsNegative(b);
            if ((IsZero(a) && up) || (IsInfinity(a) && !up))
            {
                flags |= SseFloatMath.IE;
                result = Indefinite;
            }
            else
            {
                result = IsZero(a) || IsInfinity(a) ? a : up ? Make(IsNegative(a), ExpMax, 1UL << 63) : Make(IsNegative(a), 0, 0);
            }
        }
        else if (IsZero(a) || IsInfinity(a))
        {
            result = a;
        }
        else
        {
            if (IsDenormal(a) || IsDenormal(b))
            {
                flags |= SseFloatMath.DE;
            }

            bool fitsN = RoundToInteger(b, 3, out bool negN, out UInt128 magN, out _, out _);
            int n = !fitsN || magN > 100000 ? 100000 : (int)magN; // beyond +-100000 every result is out of range anyway
            if (negN)
            {
                n = -n;
            }

            Normalize(a, out int e, out ulong m);
            int wrap = (c.X87OverflowUnmasked ? 1 : 0) | (c.X87UnderflowUnmasked ? 2 : 0);
            result = X87Extended.Round(IsNegative(a), m, e - Bias - 63 + n, false, 3, (c.Fpu.Fcw >> 10) & 3, wrap, ref flags, out _);
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.St(0) = result;
        c.SetC1(false);
    }

    /// <summary>FXTRACT: ST(0) becomes its exponent (as a value) and the significand is pushed.</summary>
    public static void Fxtract(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        if (!c.StValid(0))
        {
            if (c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                c.St(0) = Indefinite;
                c.SetStValid(0, true);
                c.FpuPush(Indefinite);
            }

            return;
        }

        Float80 a = c.St(0), exponent, significand;
        uint flags = 0;
        if (IsNaN(a) || IsUnsupported(a))
        {
            flags |= IsSNaN(a) || IsUnsupported(a) ? SseFloatMath.IE : 0;
            exponent = significand = IsNaN(a) ? Quiet(a) : Indefinite;
        }
        else if (IsInfinity(a))
        {
            exponent = Make(false, ExpMax, 1UL << 63);
            significand = a;
        }
        else if (IsZero(a))
        {
            flags |= SseFloatMath.ZE;
            exponent = Make(true, ExpMax, 1UL << 63);
            significand = a;
        }
        else
        {
            if (IsDenormal(a))
            {
                flags |= SseFloatMath.DE;
            }

            Normalize(a, out int e, out ulong m);
            exponent = FromInt64(e - Bias);
            significand = Make(IsNegative(a), Bias, m);
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.St(0) = exponent;
        c.FpuPush(significand);
    }
}

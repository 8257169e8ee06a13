namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The IEEE half-precision core of FEAT_FP16 after the Arm ARM pseudocode (DDI 0487, shared/functions/float:
/// FPUnpack, FPProcessNaN(s), FPRound, FPAdd/FPSub/FPMul/FPDiv/FPSqrt/FPMulAdd, FPMax/FPMin(NM),
/// FPCompare*, FPRoundInt, FPRecipEstimate/FPRSqrtEstimate/FPRecpX for N = 16). Values are raw 16-bit
/// patterns; <c>fpcr</c> is FPCR and the FPSR flags accumulate in <c>fpsr</c>.
/// <para>
/// Half precision follows FPCR.FZ16 (never FPCR.FZ): a denormal input becomes a zero of its sign without
/// IDC (FPUnpack, N = 16), a result whose exponent before rounding is below -14 becomes zero with UFC.
/// FPCR.AHP does not apply to arithmetic (FPUnpack and FPRound clear it); FPCR.DN gives 0x7E00.
/// </para>
/// <para>
/// Exactness: every half value is exact in binary64, and so are the sum, difference and product of two
/// of them (sums span at most 2^16..2^-24, 41 bits; products have 22 significant bits), so those are
/// computed exactly in binary64 and rounded once, by <see cref="Round"/> (integer FPRound after the
/// pseudocode: all FPCR.RMode values, underflow detected before rounding, overflow to infinity or the
/// largest normal). Division and square root compute the binary64 result q and the exact residual by a
/// fused multiply-add (x - q*y, x - q*q); the fused multiply-add computes the exact product and a TwoSum
/// of it with the addend. In each case the exact value is q plus an error smaller than half a binary64 ulp
/// of q whose sign is known, and <see cref="Round"/> rounds "q plus a sticky of that sign": no half-precision
/// rounding boundary (a half value or the midpoint of two, all binary64 values) lies strictly between q and
/// the exact value, so this is one correct rounding, not two.
/// </para>
/// </summary>
internal static class HalfFloat
{
    public const uint Ioc = 1u << 0;
    public const uint Dzc = 1u << 1;
    public const uint Ofc = 1u << 2;
    public const uint Ufc = 1u << 3;
    public const uint Ixc = 1u << 4;

    /// <summary>FPCR.FZ16.</summary>
    public const uint FpcrFz16 = 1u << 19;

    /// <summary>FPCR.DN.</summary>
    public const uint FpcrDn = 1u << 25;

    /// <summary>The default NaN.</summary>
    public const uint DefaultNaN = 0x7E00;

    public const uint SignMask = 0x8000;
    public const uint One = 0x3C00;
    public const uint Two = 0x4000;
    public const uint OnePointFive = 0x3E00;
    public const uint Three = 0x4200;
    public const uint MaxNormal = 0x7BFF;
    public const uint Infinity = 0x7C00;

    /// <summary>FPCR.RMode: 0 to nearest (ties to even), 1 toward plus infinity, 2 toward minus infinity, 3 toward zero.</summary>
    public static int RMode(uint fpcr) => (int)(fpcr >> 22) & 3;

    public static bool IsNaN(uint x) => (x & 0x7FFF) > 0x7C00;

    public static bool IsSNaN(uint x) => IsNaN(x) && (x & 0x200) == 0;

    public static bool IsInf(uint x) => (x & 0x7FFF) == 0x7C00;

    public static bool IsZero(uint x) => (x & 0x7FFF) == 0;

    public static bool Sign(uint x) => (x & SignMask) != 0;

    public static uint Zero(bool sign) => sign ? SignMask : 0;

    public static uint Inf(bool sign) => Infinity | Zero(sign);

    /// <summary>FPUnpack's FZ16: a denormal becomes a zero of the same sign (no IDC for half precision).</summary>
    public static uint In(uint x, uint fpcr) => (fpcr & FpcrFz16) != 0 && (x & 0x7C00) == 0 ? x & SignMask : x & 0xFFFF;

    /// <summary>The value of a finite or infinite half (exact).</summary>
    public static double ToDouble(uint x) => (double)BitConverter.UInt16BitsToHalf((ushort)x);

    /// <summary>FPProcessNaN: an SNaN is quietened (IOC); FPCR.DN gives the default NaN.</summary>
    public static uint ProcessNaN(uint x, uint fpcr, ref uint fpsr)
    {
        if (IsSNaN(x))
        {
            fpsr |= Ioc;
        }

        return (fpcr & FpcrDn) != 0 ? DefaultNaN : x | 0x200;
    }

    /// <summary>FPProcessNaNs: true with the result when either operand is a NaN (SNaNs first, then QNaNs).</summary>
    public static bool ProcessNaNs(uint a, uint b, uint fpcr, ref uint fpsr, out uint result)
    {
        uint? pick = IsSNaN(a) ? a : IsSNaN(b) ? b : IsNaN(a) ? a : IsNaN(b) ? b : null;
        result = pick is { } p ? ProcessNaN(p, fpcr, ref fpsr) : 0;
        return pick.HasValue;
    }

    /// <summary>FPProcessNaNs3.</summary>
    public static bool ProcessNaNs3(uint a, uint b, uint c, uint fpcr, ref uint fpsr, out uint result)
    {
        uint? pick = IsSNaN(a) ? a : IsSNaN(b) ? b : IsSNaN(c) ? c : IsNaN(a) ? a : IsNaN(b) ? b : IsNaN(c) ? c : null;
        result = pick is { } p ? ProcessNaN(p, fpcr, ref fpsr) : 0;
        return pick.HasValue;
    }

    /// <summary>
    /// FPRound to half precision of the nonzero finite value (sign, <paramref name="mag"/> + ε·<paramref name="err"/>)
    /// where ε is positive and smaller than any bit of <paramref name="mag"/> (err -1, 0 or +1: the exact
    /// magnitude is below, at or above <paramref name="mag"/>), in FPCR.RMode.
    /// <paramref name="alternative"/> rounds to the alternative half-precision format (FPCR.AHP, for FCVT only):
    /// exponent 31 is normal and a too large value gives the largest magnitude with IOC instead of overflowing.
    /// </summary>
    public static uint Round(bool sign, double mag, int err, uint fpcr, ref uint fpsr, bool alternative = false)
    {
        int exponent = Math.ILogB(mag);
        if (err < 0 && mag == Math.ScaleB(1.0, exponent))
        {
            exponent--;
        }

        if ((fpcr & FpcrFz16) != 0 && exponent < -14)
        {
            fpsr |= Ufc;
            return Zero(sign);
        }

        int biased = Math.Max(exponent + 15, 0);
        double scaled = Math.ScaleB(mag, biased == 0 ? 24 : 10 - exponent);
        double whole = Math.Floor(scaled);
        double error = scaled - whole;

        // The sticky decides only where the binary64 value sits on a boundary (error 0 or one half).
        if (err != 0 && error == 0)
        {
            if (err < 0)
            {
                whole -= 1;
                error = 0.75;
            }
            else
            {
                error = 0.25;
            }
        }
        else if (err != 0 && error == 0.5)
        {
            error = err > 0 ? 0.75 : 0.25;
        }

        long mant = (long)whole;
        if (biased == 0 && error != 0)
        {
            fpsr |= Ufc;
        }

        bool roundUp, overflowToInf;
        switch (RMode(fpcr))
        {
            case 0:
                roundUp = error > 0.5 || (error == 0.5 && (mant & 1) != 0);
                overflowToInf = true;
                break;
            case 1:
                roundUp = error != 0 && !sign;
                overflowToInf = !sign;
                break;
            case 2:
                roundUp = error != 0 && sign;
                overflowToInf = sign;
                break;
            default:
                roundUp = false;
                overflowToInf = false;
                break;
        }

        if (roundUp)
        {
            mant++;
            if (mant == 1 << 10)
            {
                biased = 1;
            }

            if (mant == 1 << 11)
            {
                biased++;
                mant >>= 1;
            }
        }

        if (alternative)
        {
            if (biased >= 32)
            {
                fpsr |= Ioc;
                return Zero(sign) | 0x7FFF;
            }
        }
        else if (biased >= 31)
        {
            fpsr |= Ofc | Ixc;
            return overflowToInf ? Inf(sign) : MaxNormal | Zero(sign);
        }

        if (error != 0)
        {
            fpsr |= Ixc;
        }

        return Zero(sign) | ((uint)biased << 10) | ((uint)mant & 0x3FF);
    }

    /// <summary>Rounds the exact binary64 value <paramref name="value"/> (nonzero, finite).</summary>
    private static uint RoundExact(double value, uint fpcr, ref uint fpsr) => Round(value < 0, Math.Abs(value), 0, fpcr, ref fpsr);

    /// <summary>The zero an exact zero sum has: -0 only when rounding toward minus infinity.</summary>
    private static uint ExactZero(uint fpcr) => Zero(RMode(fpcr) == 2);

    /// <summary>FPAdd, or FPSub with <paramref name="subtract"/>.</summary>
    public static uint Add(uint a, uint b, bool subtract, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        b = In(b, fpcr);
        if (ProcessNaNs(a, b, fpcr, ref fpsr, out uint nan))
        {
            return nan;
        }

        if (subtract)
        {
            b ^= SignMask;
        }

        bool infA = IsInf(a), infB = IsInf(b);
        if (infA && infB && Sign(a) != Sign(b))
        {
            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (infA || infB)
        {
            return Inf(infA ? Sign(a) : Sign(b));
        }

        if (IsZero(a) && IsZero(b) && Sign(a) == Sign(b))
        {
            return a;
        }

        double sum = ToDouble(a) + ToDouble(b);
        return sum == 0 ? ExactZero(fpcr) : RoundExact(sum, fpcr, ref fpsr);
    }

    /// <summary>FPMul, or FPMulX with <paramref name="mulx"/> (infinity times zero gives 2 with the product's sign).</summary>
    public static uint Mul(uint a, uint b, bool mulx, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        b = In(b, fpcr);
        if (ProcessNaNs(a, b, fpcr, ref fpsr, out uint nan))
        {
            return nan;
        }

        bool sign = Sign(a) != Sign(b);
        bool infA = IsInf(a), infB = IsInf(b), zeroA = IsZero(a), zeroB = IsZero(b);
        if ((infA && zeroB) || (zeroA && infB))
        {
            if (mulx)
            {
                return Two | Zero(sign);
            }

            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (infA || infB)
        {
            return Inf(sign);
        }

        if (zeroA || zeroB)
        {
            return Zero(sign);
        }

        return RoundExact(ToDouble(a) * ToDouble(b), fpcr, ref fpsr);
    }

    /// <summary>FPDiv.</summary>
    public static uint Div(uint a, uint b, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        b = In(b, fpcr);
        if (ProcessNaNs(a, b, fpcr, ref fpsr, out uint nan))
        {
            return nan;
        }

        bool sign = Sign(a) != Sign(b);
        bool infA = IsInf(a), infB = IsInf(b), zeroA = IsZero(a), zeroB = IsZero(b);
        if ((infA && infB) || (zeroA && zeroB))
        {
            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (infA || zeroB)
        {
            if (!infA)
            {
                fpsr |= Dzc;
            }

            return Inf(sign);
        }

        if (zeroA || infB)
        {
            return Zero(sign);
        }

        double x = Math.Abs(ToDouble(a)), y = Math.Abs(ToDouble(b));
        double q = x / y;
        double residual = Math.FusedMultiplyAdd(-q, y, x);
        return Round(sign, q, Math.Sign(residual), fpcr, ref fpsr);
    }

    /// <summary>FPSqrt.</summary>
    public static uint Sqrt(uint a, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        if (IsNaN(a))
        {
            return ProcessNaN(a, fpcr, ref fpsr);
        }

        if (IsZero(a))
        {
            return a;
        }

        if (Sign(a))
        {
            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (IsInf(a))
        {
            return a;
        }

        double x = ToDouble(a);
        double r = Math.Sqrt(x);
        return Round(false, r, Math.Sign(Math.FusedMultiplyAdd(-r, r, x)), fpcr, ref fpsr);
    }

    /// <summary>FPMulAdd(addend, n, m) = addend + n*m with one rounding.</summary>
    public static uint MulAdd(uint addend, uint n, uint m, uint fpcr, ref uint fpsr)
    {
        addend = In(addend, fpcr);
        n = In(n, fpcr);
        m = In(m, fpcr);
        bool infN = IsInf(n), infM = IsInf(m), zeroN = IsZero(n), zeroM = IsZero(m);
        bool infTimesZero = (infN && zeroM) || (zeroN && infM);
        bool done = ProcessNaNs3(addend, n, m, fpcr, ref fpsr, out uint result);
        if (IsNaN(addend) && !IsSNaN(addend) && infTimesZero)
        {
            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (done)
        {
            return result;
        }

        bool signP = Sign(n) != Sign(m), signA = Sign(addend);
        bool infP = infN || infM, infA = IsInf(addend);
        if (infTimesZero || (infA && infP && signA != signP))
        {
            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (infA || infP)
        {
            return Inf(infA ? signA : signP);
        }

        if (IsZero(addend) && (zeroN || zeroM) && signA == signP)
        {
            return Zero(signA);
        }

        return FusedSum(ToDouble(n) * ToDouble(m), ToDouble(addend), 1.0, fpcr, ref fpsr);
    }

    /// <summary>
    /// Rounds (<paramref name="product"/> + <paramref name="addend"/>) * <paramref name="scale"/> once: the
    /// product of two halves is exact in binary64, TwoSum gives the binary64 sum and its exact error (no
    /// overflow or underflow is possible at these magnitudes), scaling by 1/2 is exact.
    /// </summary>
    private static uint FusedSum(double product, double addend, double scale, uint fpcr, ref uint fpsr)
    {
        double s = product + addend;
        double bb = s - product;
        double e = (product - (s - bb)) + (addend - bb);
        if (s == 0)
        {
            return ExactZero(fpcr);
        }

        return Round(s < 0, Math.Abs(s) * scale, Math.Sign(e) * Math.Sign(s), fpcr, ref fpsr);
    }

    /// <summary>FPRecipStepFused (FRECPS): 2 - a*b, one rounding.</summary>
    public static uint RecipStep(uint a, uint b, uint fpcr, ref uint fpsr) => Step(a, b, Two, Two, 1.0, fpcr, ref fpsr);

    /// <summary>FPRSqrtStepFused (FRSQRTS): (3 - a*b) / 2, one rounding.</summary>
    public static uint RSqrtStep(uint a, uint b, uint fpcr, ref uint fpsr) => Step(a, b, Three, OnePointFive, 0.5, fpcr, ref fpsr);

    private static uint Step(uint a, uint b, uint constant, uint infTimesZero, double scale, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr) ^ SignMask;
        b = In(b, fpcr);
        if (ProcessNaNs(a, b, fpcr, ref fpsr, out uint nan))
        {
            return nan;
        }

        bool infA = IsInf(a), infB = IsInf(b);
        if ((infA && IsZero(b)) || (IsZero(a) && infB))
        {
            return infTimesZero;
        }

        if (infA || infB)
        {
            return Inf(Sign(a) != Sign(b));
        }

        return FusedSum(ToDouble(a) * ToDouble(b), ToDouble(constant), scale, fpcr, ref fpsr);
    }

    /// <summary>The FPMax/FPMin/FPMaxNum/FPMinNum operations.</summary>
    public enum MinMax
    {
        Max,
        Min,
        MaxNum,
        MinNum,
    }

    /// <summary>FPMax, FPMin, FPMaxNum, FPMinNum.</summary>
    public static uint MaxMin(MinMax op, uint a, uint b, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        b = In(b, fpcr);
        if (op is MinMax.MaxNum or MinMax.MinNum)
        {
            // A quiet NaN against a number loses: it becomes the infinity any number beats (-inf for max).
            bool qa = IsNaN(a) && !IsSNaN(a), qb = IsNaN(b) && !IsSNaN(b);
            if (qa && !IsNaN(b))
            {
                a = Inf(op == MinMax.MaxNum);
            }
            else if (qb && !IsNaN(a))
            {
                b = Inf(op == MinMax.MaxNum);
            }

            op = op == MinMax.MaxNum ? MinMax.Max : MinMax.Min;
        }

        if (ProcessNaNs(a, b, fpcr, ref fpsr, out uint nan))
        {
            return nan;
        }

        double x = ToDouble(a), y = ToDouble(b);
        bool max = op == MinMax.Max;
        if (x == y)
        {
            // +0 and -0: max gives +0, min gives -0.
            return IsZero(a) ? Zero(max ? Sign(a) && Sign(b) : Sign(a) || Sign(b)) : a;
        }

        return max ? (x > y ? a : b) : (x < y ? a : b);
    }

    /// <summary>FPCompare: NZCV in bits 31:28 (0110 equal, 1000 less, 0010 greater, 0011 unordered).</summary>
    public static uint Compare(uint a, uint b, bool signalAll, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        b = In(b, fpcr);
        if (IsNaN(a) || IsNaN(b))
        {
            if (signalAll || IsSNaN(a) || IsSNaN(b))
            {
                fpsr |= Ioc;
            }

            return 0x3u << 28;
        }

        double x = ToDouble(a), y = ToDouble(b);
        return x == y ? 0x6u << 28 : x < y ? 0x8u << 28 : 0x2u << 28;
    }

    /// <summary>The vector compares: FPCompareEQ, FPCompareGE, FPCompareGT, and the absolute FACGE/FACGT.</summary>
    public enum Condition
    {
        Eq,
        Ge,
        Gt,
        AbsGe,
        AbsGt,
    }

    /// <summary>FPCompareEQ/GE/GT (GE and GT signal on any NaN, EQ on signalling NaNs only).</summary>
    public static bool CompareCondition(Condition cond, uint a, uint b, uint fpcr, ref uint fpsr)
    {
        if (cond is Condition.AbsGe or Condition.AbsGt)
        {
            a = In(a, fpcr) & 0x7FFF;
            b = In(b, fpcr) & 0x7FFF;
            cond = cond == Condition.AbsGe ? Condition.Ge : Condition.Gt;
        }

        a = In(a, fpcr);
        b = In(b, fpcr);
        if (IsNaN(a) || IsNaN(b))
        {
            if (cond != Condition.Eq || IsSNaN(a) || IsSNaN(b))
            {
                fpsr |= Ioc;
            }

            return false;
        }

        double x = ToDouble(a), y = ToDouble(b);
        return cond switch
        {
            Condition.Eq => x == y,
            Condition.Ge => x >= y,
            _ => x > y,
        };
    }

    /// <summary>FPRoundInt (FRINT*): <paramref name="rounding"/> 0 TIEEVEN, 1 POSINF, 2 NEGINF, 3 ZERO, 4 TIEAWAY; <paramref name="exact"/> raises IXC when the value changes.</summary>
    public static uint RoundInt(uint a, int rounding, bool exact, uint fpcr, ref uint fpsr)
    {
        a = In(a, fpcr);
        if (IsNaN(a))
        {
            return ProcessNaN(a, fpcr, ref fpsr);
        }

        if (IsInf(a) || IsZero(a))
        {
            return a;
        }

        double x = ToDouble(a);
        double r = rounding switch
        {
            0 => Math.Round(x, MidpointRounding.ToEven),
            1 => Math.Ceiling(x),
            2 => Math.Floor(x),
            3 => Math.Truncate(x),
            _ => Math.Round(x, MidpointRounding.AwayFromZero),
        };
        if (exact && r != x)
        {
            fpsr |= Ixc;
        }

        // An integral value of at most 2^16 has at most 11 significant bits: exact in half precision.
        return r == 0 ? Zero(Sign(a)) : BitConverter.HalfToUInt16Bits((Half)r);
    }

    /// <summary>
    /// FixedToFP to half precision: the 64-bit integer <paramref name="value"/> (two's complement when
    /// <paramref name="signed"/>) divided by 2^<paramref name="fbits"/>, rounded per FPCR.
    /// </summary>
    public static uint FromFixed(ulong value, bool signed, int fbits, uint fpcr, ref uint fpsr)
    {
        bool sign = signed && (long)value < 0;
        ulong mag = sign ? 0 - value : value;
        if (mag == 0)
        {
            return 0;
        }

        // The top 53 bits are exact in binary64; what lies below only says "a little more".
        int drop = Math.Max(0, 64 - System.Numerics.BitOperations.LeadingZeroCount(mag) - 53);
        int sticky = (mag & ((1UL << drop) - 1)) != 0 ? 1 : 0;
        double top = Math.ScaleB((double)(mag >> drop), drop - fbits);
        return Round(sign, top, sticky, fpcr, ref fpsr);
    }

    /// <summary>FPRecipEstimate (FRECPE) for N = 16.</summary>
    public static uint RecipEstimate(uint x, uint fpcr, ref uint fpsr)
    {
        x = In(x, fpcr);
        bool sign = Sign(x);
        if (IsNaN(x))
        {
            return ProcessNaN(x, fpcr, ref fpsr);
        }

        if (IsInf(x))
        {
            return Zero(sign);
        }

        if (IsZero(x))
        {
            fpsr |= Dzc;
            return Inf(sign);
        }

        int exp = (int)(x >> 10) & 31;
        ulong fraction = (ulong)(x & 0x3FF) << 42;
        if (exp == 0 && fraction < (1UL << 50))
        {
            // |x| < 2^-16: the reciprocal overflows.
            bool toInf = RMode(fpcr) switch
            {
                0 => true,
                1 => !sign,
                2 => sign,
                _ => false,
            };
            fpsr |= Ofc | Ixc;
            return toInf ? Inf(sign) : MaxNormal | Zero(sign);
        }

        if ((fpcr & FpcrFz16) != 0 && exp >= 29)
        {
            // |x| >= 2^14: the result is below the normal range and flushed.
            fpsr |= Ufc;
            return Zero(sign);
        }

        if (exp == 0)
        {
            if ((fraction & (1UL << 51)) == 0)
            {
                exp = -1;
                fraction = (fraction << 2) & ((1UL << 52) - 1);
            }
            else
            {
                fraction = (fraction << 1) & ((1UL << 52) - 1);
            }
        }

        int resultExp = 29 - exp;
        ulong estimate = Arm64Cpu.RecipEstimateTable[256 | (int)(fraction >> 44)];
        fraction = (estimate & 0xFF) << 44;
        if (resultExp == 0)
        {
            fraction = (1UL << 51) | (fraction >> 1);
        }
        else if (resultExp == -1)
        {
            fraction = (1UL << 50) | (fraction >> 2);
            resultExp = 0;
        }

        return Zero(sign) | ((uint)(resultExp & 31) << 10) | (uint)(fraction >> 42);
    }

    /// <summary>FPRSqrtEstimate (FRSQRTE) for N = 16.</summary>
    public static uint RSqrtEstimate(uint x, uint fpcr, ref uint fpsr)
    {
        x = In(x, fpcr);
        bool sign = Sign(x);
        if (IsNaN(x))
        {
            return ProcessNaN(x, fpcr, ref fpsr);
        }

        if (IsZero(x))
        {
            fpsr |= Dzc;
            return Inf(sign);
        }

        if (sign)
        {
            fpsr |= Ioc;
            return DefaultNaN;
        }

        if (IsInf(x))
        {
            return 0;
        }

        int exp = (int)(x >> 10) & 31;
        ulong fraction = (ulong)(x & 0x3FF) << 42;
        if (exp == 0)
        {
            while ((fraction & (1UL << 51)) == 0)
            {
                fraction <<= 1;
                exp--;
            }

            fraction = (fraction << 1) & ((1UL << 52) - 1);
        }

        int scaled = (exp & 1) != 0 ? 128 | (int)(fraction >> 45) : 256 | (int)(fraction >> 44);
        int resultExp = (44 - exp) / 2;
        ulong estimate = Arm64Cpu.RecipSqrtEstimateTable[scaled] & 0xFFUL;
        return ((uint)(resultExp & 31) << 10) | (uint)(estimate << 2);
    }

    /// <summary>FPRecpX (FRECPX) for N = 16: the exponent inverted, the fraction zeroed.</summary>
    public static uint RecpX(uint x, uint fpcr, ref uint fpsr)
    {
        uint unpacked = In(x, fpcr);
        if (IsNaN(unpacked))
        {
            return ProcessNaN(unpacked, fpcr, ref fpsr);
        }

        uint exp = (x >> 10) & 31;
        uint sign = x & SignMask;
        return exp == 0 ? sign | (30u << 10) : sign | ((~exp & 31) << 10);
    }
}

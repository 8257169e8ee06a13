using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The FP core shared by scalar and vector FP instructions, after the Arm ARM pseudocode (DDI 0487,
/// J1.3 shared/functions/float): FPProcessNaN(s) with FPCR.DN, the default NaN, FPCR.FZ flushing of
/// inputs (IDC) and outputs (UFC), and the cumulative FPSR flags IOC/DZC/OFC/UFC/IXC/IDC.
/// Values travel as raw bits (ulong) with <c>dbl</c> selecting binary64 or binary32.
/// Rounding: the host computes round-to-nearest-even; the other FPCR.RMode values are derived in
/// software from the sign of the exact error term (TwoSum / FMA residuals), so +,-,*,/,sqrt and the
/// integer conversions honour all four modes. Binary32 arithmetic is done in binary64 and rounded
/// once more (innocuous double rounding for +,-,*,/,sqrt since 53 >= 2*24+2). Known approximations:
/// underflow is detected after rounding (the Arm ARM detects it before rounding, which differs only
/// for results that round up to the smallest normal); the fused multiply-add rounds to nearest on the
/// host and derives the other modes from the error sign of its TwoProduct/TwoSum residuals.
/// </summary>
public sealed partial class Arm64Cpu
{
    private const uint FpsrIoc = 1u << 0;
    private const uint FpsrDzc = 1u << 1;
    private const uint FpsrOfc = 1u << 2;
    private const uint FpsrUfc = 1u << 3;
    private const uint FpsrIxc = 1u << 4;
    private const uint FpsrIdc = 1u << 7;
    private const uint FpsrQc = 1u << 27;

    private const uint FpcrDn = 1u << 25;
    private const uint FpcrFz = 1u << 24;

    private const ulong DefaultNan64 = 0x7FF8_0000_0000_0000UL;
    private const ulong DefaultNan32 = 0x7FC0_0000UL;

    private static readonly double s_two600 = Math.ScaleB(1.0, 600);
    private static readonly double s_two300 = Math.ScaleB(1.0, 300);
    private static readonly double s_two400 = Math.ScaleB(1.0, 400);
    private static readonly double s_twoM900 = Math.ScaleB(1.0, -900);

    private int FpRMode => (int)(State.Fpcr >> 22) & 3;

    private static bool IsNaN(ulong x, bool dbl) =>
        dbl ? (x & 0x7FFF_FFFF_FFFF_FFFFUL) > 0x7FF0_0000_0000_0000UL : (x & 0x7FFF_FFFFUL) > 0x7F80_0000UL;

    private static bool IsSNaN(ulong x, bool dbl) =>
        IsNaN(x, dbl) && (dbl ? (x & (1UL << 51)) == 0 : (x & (1UL << 22)) == 0);

    private static bool IsInf(ulong x, bool dbl) =>
        dbl ? (x & 0x7FFF_FFFF_FFFF_FFFFUL) == 0x7FF0_0000_0000_0000UL : (x & 0x7FFF_FFFFUL) == 0x7F80_0000UL;

    private static bool IsZero(ulong x, bool dbl) =>
        dbl ? (x & 0x7FFF_FFFF_FFFF_FFFFUL) == 0 : (x & 0x7FFF_FFFFUL) == 0;

    private static bool SignBit(ulong x, bool dbl) => dbl ? (x >> 63) != 0 : ((x >> 31) & 1) != 0;

    private static ulong Quiet(ulong x, bool dbl) => dbl ? x | (1UL << 51) : (x | (1UL << 22)) & 0xFFFF_FFFFUL;

    private static ulong DefaultNan(bool dbl) => dbl ? DefaultNan64 : DefaultNan32;

    private static ulong ZeroOf(bool sign, bool dbl) => sign ? (dbl ? 1UL << 63 : 1UL << 31) : 0;

    private static ulong InfOf(bool sign, bool dbl) => (dbl ? 0x7FF0_0000_0000_0000UL : 0x7F80_0000UL) | ZeroOf(sign, dbl);

    private static bool IsDenormal(ulong x, bool dbl) =>
        dbl ? (x & 0x7FF0_0000_0000_0000UL) == 0 && (x & 0x000F_FFFF_FFFF_FFFFUL) != 0
            : (x & 0x7F80_0000UL) == 0 && (x & 0x007F_FFFFUL) != 0;

    private void FpFlag(uint flags) => State.Fpsr |= flags;

    /// <summary>FPCR.FZ: a denormal input becomes a zero of the same sign (IDC).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong FpIn(ulong x, bool dbl)
    {
        if ((State.Fpcr & FpcrFz) != 0 && IsDenormal(x, dbl))
        {
            FpFlag(FpsrIdc);
            return ZeroOf(SignBit(x, dbl), dbl);
        }

        return x;
    }

    /// <summary>FPProcessNaN: an SNaN is quietened (IOC); FPCR.DN gives the default NaN.</summary>
    private ulong ProcessNaN(ulong x, bool dbl)
    {
        if (IsSNaN(x, dbl))
        {
            FpFlag(FpsrIoc);
        }

        return (State.Fpcr & FpcrDn) != 0 ? DefaultNan(dbl) : Quiet(x, dbl);
    }

    /// <summary>FPProcessNaNs: true with the result when either operand is a NaN (SNaNs first, then QNaNs, in operand order).</summary>
    private bool ProcessNaNs(ulong a, ulong b, bool dbl, out ulong result)
    {
        if (IsSNaN(a, dbl))
        {
            result = ProcessNaN(a, dbl);
        }
        else if (IsSNaN(b, dbl))
        {
            result = ProcessNaN(b, dbl);
        }
        else if (IsNaN(a, dbl))
        {
            result = ProcessNaN(a, dbl);
        }
        else if (IsNaN(b, dbl))
        {
            result = ProcessNaN(b, dbl);
        }
        else
        {
            result = 0;
            return false;
        }

        return true;
    }

    private bool ProcessNaNs3(ulong a, ulong b, ulong c, bool dbl, out ulong result)
    {
        if (IsSNaN(a, dbl))
        {
            result = ProcessNaN(a, dbl);
        }
        else if (IsSNaN(b, dbl))
        {
            result = ProcessNaN(b, dbl);
        }
        else if (IsSNaN(c, dbl))
        {
            result = ProcessNaN(c, dbl);
        }
        else if (IsNaN(a, dbl))
        {
            result = ProcessNaN(a, dbl);
        }
        else if (IsNaN(b, dbl))
        {
            result = ProcessNaN(b, dbl);
        }
        else if (IsNaN(c, dbl))
        {
            result = ProcessNaN(c, dbl);
        }
        else
        {
            result = 0;
            return false;
        }

        return true;
    }

    private static double D(ulong x) => BitConverter.UInt64BitsToDouble(x);

    private static float F(ulong x) => BitConverter.UInt32BitsToSingle((uint)x);

    private static double ToHost(ulong x, bool dbl) => dbl ? D(x) : F(x);

    private static ulong Bits(double d) => BitConverter.DoubleToUInt64Bits(d);

    /// <summary>
    /// Rounds a host binary64 value <paramref name="r"/> (the round-to-nearest-even result of the operation
    /// in binary64) whose exact value differs from it by an error of sign <paramref name="err"/>
    /// (-1, 0, +1) to the destination precision under FPCR, raising IXC/OFC/UFC, FZ flushing the output.
    /// </summary>
    private ulong FpRound(double r, int err, bool dbl)
    {
        ulong bits;
        if (double.IsNaN(r))
        {
            FpFlag(FpsrIoc);
            return DefaultNan(dbl);
        }

        if ((State.Fpcr & FpcrFz) != 0 && (r != 0 || err != 0) && Math.Abs(r) < (dbl ? 2.2250738585072014E-308 : 1.1754943508222875E-38))
        {
            // FPRound with FZ: a result below the normal range becomes zero, raising only Underflow.
            FpFlag(FpsrUfc);
            return ZeroOf(double.IsNegative(r), dbl);
        }

        if (dbl)
        {
            bits = Bits(r);
        }
        else
        {
            float f = (float)r;
            double back = f;
            if (back != r)
            {
                err = back < r ? 1 : -1;
                if (double.IsInfinity(back) && !double.IsInfinity(r))
                {
                    err = back < 0 ? 1 : -1;
                }
            }

            bits = BitConverter.SingleToUInt32Bits(f);
            r = back;
        }

        if (err != 0)
        {
            bool overflow = IsInf(bits, dbl);
            bits = DirectedAdjust(bits, err, dbl);
            uint flags = FpsrIxc;
            if (overflow || IsInf(bits, dbl))
            {
                flags |= FpsrOfc;
            }

            if (IsTiny(bits, dbl))
            {
                flags |= FpsrUfc;
            }

            FpFlag(flags);
        }

        if ((State.Fpcr & FpcrFz) != 0 && IsDenormal(bits, dbl))
        {
            FpFlag(FpsrUfc);
            bits = ZeroOf(SignBit(bits, dbl), dbl);
        }

        return bits;
    }

    private static bool IsTiny(ulong bits, bool dbl) =>
        dbl ? (bits & 0x7FF0_0000_0000_0000UL) == 0 : (bits & 0x7F80_0000UL) == 0;

    /// <summary>Moves a round-to-nearest result one ulp where the rounding mode asks (exact value = result + err).</summary>
    private ulong DirectedAdjust(ulong bits, int err, bool dbl)
    {
        bool neg = SignBit(bits, dbl);
        switch (FpRMode)
        {
            case 1:
                return err > 0 ? (neg ? StepMagnitudeDown(bits, dbl) : StepMagnitudeUp(bits, dbl)) : bits;
            case 2:
                return err < 0 ? (neg ? StepMagnitudeUp(bits, dbl) : StepMagnitudeDown(bits, dbl)) : bits;
            case 3:
                return (neg ? err > 0 : err < 0) ? StepMagnitudeDown(bits, dbl) : bits;
            default:
                return bits;
        }
    }

    private static ulong StepMagnitudeDown(ulong bits, bool dbl)
    {
        if (IsZero(bits, dbl))
        {
            return bits;
        }

        return bits - 1;
    }

    private static ulong StepMagnitudeUp(ulong bits, bool dbl)
    {
        if (IsInf(bits, dbl))
        {
            return bits;
        }

        return bits + 1;
    }

    private static int Sign(double e) => e > 0 ? 1 : e < 0 ? -1 : 0;

    // ---- arithmetic ----

    private enum FpBin
    {
        Add,
        Sub,
        Mul,
        Div,
        Max,
        Min,
        MaxNm,
        MinNm,
        Abd,
    }

    private ulong FpBinary(FpBin op, ulong a, ulong b, bool dbl)
    {
        a = FpIn(a, dbl);
        b = FpIn(b, dbl);
        if (op is FpBin.MaxNm or FpBin.MinNm)
        {
            bool qa = IsNaN(a, dbl) && !IsSNaN(a, dbl), qb = IsNaN(b, dbl) && !IsSNaN(b, dbl);
            if (qa && !IsNaN(b, dbl))
            {
                a = InfOf(op == FpBin.MaxNm, dbl);
            }
            else if (qb && !IsNaN(a, dbl))
            {
                b = InfOf(op == FpBin.MaxNm, dbl);
            }

            op = op == FpBin.MaxNm ? FpBin.Max : FpBin.Min;
        }

        if (ProcessNaNs(a, b, dbl, out ulong nan))
        {
            // FABD is FPAbs(FPSub(...)): the absolute value clears the sign of a NaN result too.
            return op == FpBin.Abd ? nan & ~ZeroOf(true, dbl) : nan;
        }

        double x = ToHost(a, dbl), y = ToHost(b, dbl);
        switch (op)
        {
            case FpBin.Max:
            case FpBin.Min:
            {
                bool max = op == FpBin.Max;
                if (x == y)
                {
                    // +0/-0: max gives +0, min gives -0.
                    bool neg = max ? SignBit(a, dbl) && SignBit(b, dbl) : SignBit(a, dbl) || SignBit(b, dbl);
                    return IsZero(a, dbl) ? ZeroOf(neg, dbl) : FpOut(a, dbl);
                }

                return FpOut(max ? (x > y ? a : b) : (x < y ? a : b), dbl);
            }

            case FpBin.Add:
            case FpBin.Sub:
            case FpBin.Abd:
            {
                if (op != FpBin.Add)
                {
                    y = -y;
                }

                if (double.IsInfinity(x) && double.IsInfinity(y) && x != y)
                {
                    FpFlag(FpsrIoc);
                    return DefaultNan(dbl);
                }

                double s = x + y;
                double bb = s - x;
                double e = (x - (s - bb)) + (y - bb);
                if (double.IsInfinity(s))
                {
                    e = double.IsInfinity(x) || double.IsInfinity(y) ? 0 : -s;
                }

                if (s == 0 && e == 0)
                {
                    // Exact zero: the common sign of two like-signed zeros, else -0 only in round toward minus infinity.
                    bool sa = SignBit(a, dbl), sb = SignBit(b, dbl) ^ (op != FpBin.Add);
                    return IsZero(a, dbl) && IsZero(b, dbl) && sa == sb ? ZeroOf(sa, dbl) : ZeroOf(FpRMode == 2, dbl);
                }

                ulong r = FpRound(s, Sign(e), dbl);
                return op == FpBin.Abd ? r & ~ZeroOf(true, dbl) : r;
            }

            case FpBin.Mul:
            {
                if ((double.IsInfinity(x) && y == 0) || (x == 0 && double.IsInfinity(y)))
                {
                    FpFlag(FpsrIoc);
                    return DefaultNan(dbl);
                }

                double p = x * y;
                double e = double.IsInfinity(p) ? (double.IsInfinity(x) || double.IsInfinity(y) ? 0 : -p) : ProductResidual(x, y, p);
                if (p == 0 && e == 0 && x != 0 && y != 0)
                {
                    e = x * y >= 0 ? (SignBit(a, dbl) == SignBit(b, dbl) ? 1 : -1) : 0;
                }

                return FpRound(p, Sign(e), dbl);
            }

            default:
            {
                if ((x == 0 && y == 0) || (double.IsInfinity(x) && double.IsInfinity(y)))
                {
                    FpFlag(FpsrIoc);
                    return DefaultNan(dbl);
                }

                if (y == 0 && !double.IsInfinity(x))
                {
                    FpFlag(FpsrDzc);
                    return InfOf(SignBit(a, dbl) != SignBit(b, dbl), dbl);
                }

                double q = x / y;
                double e;
                if (double.IsInfinity(q))
                {
                    e = double.IsInfinity(x) ? 0 : -q;
                }
                else if (q == 0)
                {
                    e = x == 0 || double.IsInfinity(y) ? 0 : (SignBit(a, dbl) == SignBit(b, dbl) ? 1 : -1);
                }
                else
                {
                    double rem = QuotientResidual(x, y, q);
                    e = y > 0 ? rem : -rem;
                    if (double.IsNaN(e))
                    {
                        e = 0;
                    }
                }

                return FpRound(q, Sign(e), dbl);
            }
        }
    }

    /// <summary>x*y - p, exact even when p is subnormal (the residual would underflow): the smaller factor is scaled by 2^600.</summary>
    private static double ProductResidual(double x, double y, double p)
    {
        if (Math.Abs(p) >= s_twoM900)
        {
            return Math.FusedMultiplyAdd(x, y, -p);
        }

        return Math.Abs(x) < Math.Abs(y)
            ? Math.FusedMultiplyAdd(x * s_two600, y, -p * s_two600)
            : Math.FusedMultiplyAdd(x, y * s_two600, -p * s_two600);
    }

    /// <summary>x - q*y (same sign as the exact x/y - q times sign(y)), scaled so tiny operands do not underflow it.</summary>
    private static double QuotientResidual(double x, double y, double q)
    {
        if (Math.Abs(q) < s_twoM900)
        {
            return Math.FusedMultiplyAdd(-q * s_two600, y, x * s_two600);
        }

        if (Math.Abs(x) < s_twoM900 || Math.Abs(y) < s_twoM900)
        {
            return Math.Abs(x) > s_two400 || Math.Abs(y) > s_two400 ? Math.FusedMultiplyAdd(-q, y, x) : Math.FusedMultiplyAdd(-q, y * s_two600, x * s_two600);
        }

        return Math.FusedMultiplyAdd(-q, y, x);
    }

    private ulong FpOut(ulong bits, bool dbl)
    {
        if ((State.Fpcr & FpcrFz) != 0 && IsDenormal(bits, dbl))
        {
            FpFlag(FpsrUfc);
            return ZeroOf(SignBit(bits, dbl), dbl);
        }

        return bits;
    }

    private ulong FpSqrt(ulong a, bool dbl)
    {
        a = FpIn(a, dbl);
        if (IsNaN(a, dbl))
        {
            return ProcessNaN(a, dbl);
        }

        if (IsZero(a, dbl))
        {
            return a;
        }

        if (SignBit(a, dbl))
        {
            FpFlag(FpsrIoc);
            return DefaultNan(dbl);
        }

        double x = ToHost(a, dbl);
        if (double.IsInfinity(x))
        {
            return a;
        }

        double r = Math.Sqrt(x);
        double e = x < s_twoM900 ? Math.FusedMultiplyAdd(-r * s_two300, r * s_two300, x * s_two600) : Math.FusedMultiplyAdd(-r, r, x);
        return FpRound(r, Sign(e), dbl);
    }

    /// <summary>FPMulAdd(addend, n, m): addend + n*m with one rounding.</summary>
    private ulong FpMulAdd(ulong addend, ulong n, ulong m, bool dbl)
    {
        addend = FpIn(addend, dbl);
        n = FpIn(n, dbl);
        m = FpIn(m, dbl);
        double x = ToHost(n, dbl), y = ToHost(m, dbl), c = ToHost(addend, dbl);
        bool infTimesZero = (double.IsInfinity(x) && y == 0) || (x == 0 && double.IsInfinity(y));
        if (IsNaN(addend, dbl) && !IsSNaN(addend, dbl) && infTimesZero && !IsNaN(n, dbl) && !IsNaN(m, dbl))
        {
            FpFlag(FpsrIoc);
            return DefaultNan(dbl);
        }

        if (ProcessNaNs3(addend, n, m, dbl, out ulong nan))
        {
            return nan;
        }

        if (infTimesZero)
        {
            FpFlag(FpsrIoc);
            return DefaultNan(dbl);
        }

        bool prodNeg = SignBit(n, dbl) != SignBit(m, dbl);
        if ((double.IsInfinity(x) || double.IsInfinity(y)) && double.IsInfinity(c) && (c < 0) != prodNeg)
        {
            FpFlag(FpsrIoc);
            return DefaultNan(dbl);
        }

        if ((x == 0 || y == 0) && c == 0)
        {
            bool neg = prodNeg && SignBit(addend, dbl);
            if (prodNeg != SignBit(addend, dbl))
            {
                neg = FpRMode == 2;
            }

            return ZeroOf(neg, dbl);
        }

        if (dbl)
        {
            double r = Math.FusedMultiplyAdd(x, y, c);
            int err = 0;
            if (x != 0 && y != 0 && !double.IsInfinity(x) && !double.IsInfinity(y) && !double.IsInfinity(c))
            {
                err = double.IsInfinity(r) ? -Sign(r) : FusedError(x, y, c, r, prodNeg);
            }

            return FpRoundNoDirected(r, err, true);
        }
        else
        {
            float r = MathF.FusedMultiplyAdd((float)x, (float)y, (float)c);
            double p = x * y; // exact: 24+24 bits
            double s = p + c;
            double bb = s - p;
            double se = (p - (s - bb)) + (c - bb);
            int err = double.IsInfinity(r) ? (float.IsInfinity((float)x) || float.IsInfinity((float)y) || float.IsInfinity((float)c) ? 0 : -Sign(r))
                : Sign((s - r) + se);
            return FpRoundNoDirected(BitConverter.SingleToUInt32Bits(r), err, false);
        }
    }

    /// <summary>
    /// The sign of (x*y + c) - r for a finite fused result r, from TwoProduct and TwoSum residuals; a tiny
    /// product is scaled by 2^600 (with c and r) so its residual does not underflow.
    /// </summary>
    private static int FusedError(double x, double y, double c, double r, bool prodNeg)
    {
        double p = x * y;
        if (Math.Abs(p) < s_twoM900)
        {
            // |x*y| < 2^(ilogb x + ilogb y + 2); below half an ulp of c the result is c and the error the product's sign.
            int productExponent = Math.ILogB(x) + Math.ILogB(y) + 2;
            int ulpExponent = Math.Max(Math.ILogB(c) - 52, -1074);
            if (c != 0 && productExponent < ulpExponent - 1)
            {
                return prodNeg ? -1 : 1;
            }

            if (Math.Abs(x) < Math.Abs(y))
            {
                x *= s_two600;
            }
            else
            {
                y *= s_two600;
            }

            c *= s_two600;
            r *= s_two600;
            p = x * y;
        }

        double pe = Math.FusedMultiplyAdd(x, y, -p);
        double s = p + c;
        double bb = s - p;
        double se = (p - (s - bb)) + (c - bb);
        return Sign((s - r) + se + pe);
    }

    private ulong FpRoundNoDirected(double r, int err, bool dbl) => FpRoundNoDirected(Bits(r), err, dbl);

    /// <summary>Finishes a fused result already rounded to nearest in the destination format: FPCR.RMode, flags, FZ.</summary>
    private ulong FpRoundNoDirected(ulong bits, int err, bool dbl)
    {
        if ((State.Fpcr & FpcrFz) != 0 && !IsZero(bits, dbl) && (IsTiny(bits, dbl) || (err != 0 && IsMinNormalBoundary(bits, dbl))))
        {
            if (IsTiny(bits, dbl))
            {
                FpFlag(FpsrUfc);
                return ZeroOf(SignBit(bits, dbl), dbl);
            }
        }

        if (err != 0)
        {
            bool overflow = IsInf(bits, dbl);
            bits = DirectedAdjust(bits, err, dbl);
            uint flags = FpsrIxc;
            if (overflow || IsInf(bits, dbl))
            {
                flags |= FpsrOfc;
            }

            if (IsTiny(bits, dbl))
            {
                flags |= FpsrUfc;
            }

            FpFlag(flags);
        }

        return bits;
    }

    private static bool IsMinNormalBoundary(ulong bits, bool dbl) =>
        dbl ? (bits & 0x7FFF_FFFF_FFFF_FFFFUL) == 0x0010_0000_0000_0000UL : (bits & 0x7FFF_FFFFUL) == 0x0080_0000UL;

    /// <summary>FPCompare: NZCV (0110 equal, 1000 less, 0010 greater, 0011 unordered).</summary>
    private uint FpCompare(ulong a, ulong b, bool dbl, bool signalAll)
    {
        a = FpIn(a, dbl);
        b = FpIn(b, dbl);
        if (IsNaN(a, dbl) || IsNaN(b, dbl))
        {
            if (signalAll || IsSNaN(a, dbl) || IsSNaN(b, dbl))
            {
                FpFlag(FpsrIoc);
            }

            return 0x3u << 28;
        }

        double x = ToHost(a, dbl), y = ToHost(b, dbl);
        return x == y ? 0x6u << 28 : x < y ? 0x8u << 28 : 0x2u << 28;
    }

    /// <summary>Vector compares (FCMEQ/FCMGE/FCMGT/FACGE/FACGT): all ones or zero.</summary>
    private bool FpCompareQuiet(ulong a, ulong b, bool dbl, int kind)
    {
        a = FpIn(a, dbl);
        b = FpIn(b, dbl);
        if (IsNaN(a, dbl) || IsNaN(b, dbl))
        {
            if (kind != 0 || IsSNaN(a, dbl) || IsSNaN(b, dbl))
            {
                FpFlag(FpsrIoc);
            }

            return false;
        }

        double x = ToHost(a, dbl), y = ToHost(b, dbl);
        return kind switch
        {
            0 => x == y,
            1 => x >= y,
            2 => x > y,
            3 => Math.Abs(x) >= Math.Abs(y),
            _ => Math.Abs(x) > Math.Abs(y),
        };
    }

    // ---- rounding to integral and conversions ----

    /// <summary>Rounds a host double to an integral value in the given Arm rounding mode (0 N, 1 P, 2 M, 3 Z, 4 A).</summary>
    private static double RoundIntegral(double x, int rounding) => rounding switch
    {
        0 => Math.Round(x, MidpointRounding.ToEven),
        1 => Math.Ceiling(x),
        2 => Math.Floor(x),
        3 => Math.Truncate(x),
        _ => Math.Round(x, MidpointRounding.AwayFromZero),
    };

    /// <summary>FRINT*: round to integral in FP format; <paramref name="exact"/> raises IXC when the value changed (FRINTX).</summary>
    private ulong FpRoundInt(ulong a, bool dbl, int rounding, bool exact)
    {
        a = FpIn(a, dbl);
        if (IsNaN(a, dbl))
        {
            return ProcessNaN(a, dbl);
        }

        double x = ToHost(a, dbl);
        if (double.IsInfinity(x) || x == 0)
        {
            return a;
        }

        double r = RoundIntegral(x, rounding);
        if (exact && r != x)
        {
            FpFlag(FpsrIxc);
        }

        ulong bits = dbl ? Bits(r) : BitConverter.SingleToUInt32Bits((float)r);
        if (r == 0)
        {
            bits = ZeroOf(SignBit(a, dbl), dbl);
        }

        return bits;
    }

    /// <summary>FPToFixed: FP to a signed or unsigned integer of <paramref name="bits"/> bits with <paramref name="fbits"/> fraction bits, saturating (IOC), IXC when inexact.</summary>
    private ulong FpToFixed(ulong a, bool dbl, int fbits, bool unsigned, int bits, int rounding)
    {
        a = FpIn(a, dbl);
        if (IsNaN(a, dbl))
        {
            FpFlag(FpsrIoc);
            return 0;
        }

        double x = ToHost(a, dbl) * Math.Pow(2, fbits);
        double r = RoundIntegral(x, rounding);
        double max = unsigned ? Math.Pow(2, bits) : Math.Pow(2, bits - 1);
        double min = unsigned ? 0 : -max;
        if (r >= max)
        {
            FpFlag(FpsrIoc);
            ulong sat = unsigned ? ulong.MaxValue : (1UL << (bits - 1)) - 1;
            return bits == 64 ? sat : sat & ((1UL << bits) - 1);
        }

        if (r < min)
        {
            FpFlag(FpsrIoc);
            return unsigned ? 0 : (bits == 64 ? 1UL << 63 : (1UL << (bits - 1)));
        }

        if (r != x)
        {
            FpFlag(FpsrIxc);
        }

        ulong v = unsigned ? (r >= 9223372036854775808.0 ? (ulong)(r - 9223372036854775808.0) + (1UL << 63) : (ulong)(long)r) : (ulong)(long)r;
        return bits == 64 ? v : v & ((1UL << bits) - 1);
    }

    /// <summary>FixedToFP: a 64-bit integer (signed or not) with <paramref name="fbits"/> fraction bits to FP, rounded per FPCR.</summary>
    private ulong FixedToFp(ulong value, bool signed, int fbits, bool dbl)
    {
        bool neg = signed && (long)value < 0;
        ulong mag = neg ? (ulong)(-(long)value) : value;
        if (mag == 0)
        {
            return 0;
        }

        int precision = dbl ? 53 : 24;
        int msb = 63 - BitOperations.LeadingZeroCount(mag);
        ulong rounded = mag;
        bool inexact = false;
        int shift = msb + 1 - precision;
        if (shift > 0)
        {
            ulong rem = mag & ((1UL << shift) - 1);
            ulong half = 1UL << (shift - 1);
            ulong trunc = mag >> shift;
            inexact = rem != 0;
            bool up = FpRMode switch
            {
                0 => rem > half || (rem == half && (trunc & 1) != 0),
                1 => rem != 0 && !neg,
                2 => rem != 0 && neg,
                _ => false,
            };
            trunc += up ? 1UL : 0;
            // The mantissa may carry into a new bit; the scaled value below stays exact in double.
            double scaled = (double)trunc * Math.Pow(2, shift - fbits);
            if (inexact)
            {
                FpFlag(FpsrIxc);
            }

            return Pack(neg ? -scaled : scaled, dbl);
        }

        double d = (double)rounded * Math.Pow(2, -fbits);
        return Pack(neg ? -d : d, dbl);
    }

    private static ulong Pack(double d, bool dbl) => dbl ? Bits(d) : BitConverter.SingleToUInt32Bits((float)d);

    private const uint FpcrAhp = 1u << 26;

    /// <summary>
    /// FPConvert between half (0), single (1) and double (2) precision. FPCR.FZ16 does not apply; FPCR.AHP
    /// selects the alternative half-precision format (exponent 31 is a normal number, no infinities or NaNs:
    /// a NaN converts to zero and an infinity or a too large value to the largest magnitude, with IOC).
    /// Rounding to half is FPRound with FPCR.RMode (<see cref="HalfFloat.Round"/>).
    /// </summary>
    private ulong FpConvert(ulong a, int from, int to)
    {
        if (from == 1 || from == 2)
        {
            a = FpIn(a, from == 2);
        }

        bool ahp = (State.Fpcr & FpcrAhp) != 0;
        ulong sign = from switch { 0 => (a >> 15) & 1, 1 => (a >> 31) & 1, _ => a >> 63 };
        bool isNan = from switch
        {
            0 => !ahp && (a & 0x7FFF) > 0x7C00,
            1 => IsNaN(a, false),
            _ => IsNaN(a, true),
        };
        if (isNan)
        {
            bool snan = from switch
            {
                0 => (a & 0x200) == 0,
                1 => IsSNaN(a, false),
                _ => IsSNaN(a, true),
            };
            if (snan || (to == 0 && ahp))
            {
                FpFlag(FpsrIoc);
            }

            if (to == 0 && ahp)
            {
                return sign << 15;
            }

            if ((State.Fpcr & FpcrDn) != 0)
            {
                return to switch { 0 => 0x7E00UL, 1 => DefaultNan32, _ => DefaultNan64 };
            }

            // Sign and the top fraction bits carry over; the result is quiet.
            ulong frac = from switch { 0 => (a & 0x3FF) << 42, 1 => (a & 0x7F_FFFF) << 29, _ => a & 0xF_FFFF_FFFF_FFFF };
            return to switch
            {
                0 => (sign << 15) | 0x7E00 | (frac >> 42),
                1 => (sign << 31) | 0x7FC0_0000 | (frac >> 29),
                _ => (sign << 63) | 0x7FF8_0000_0000_0000 | frac,
            };
        }

        double x = from switch
        {
            0 when ahp && (a & 0x7C00) == 0x7C00 => (sign != 0 ? -1 : 1) * Math.ScaleB(1024 + (double)(a & 0x3FF), 6),
            0 => (double)BitConverter.UInt16BitsToHalf((ushort)a),
            1 => F(a),
            _ => D(a),
        };
        if (to == 2)
        {
            return Bits(x);
        }

        if (to == 1)
        {
            return FpRound(x, 0, false);
        }

        if (x == 0)
        {
            return sign << 15;
        }

        if (double.IsInfinity(x))
        {
            if (ahp)
            {
                FpFlag(FpsrIoc);
                return (sign << 15) | 0x7FFF;
            }

            return (sign << 15) | 0x7C00;
        }

        uint fpsr = State.Fpsr;
        ulong result = HalfFloat.Round(sign != 0, Math.Abs(x), 0, State.Fpcr & ~HalfFloat.FpcrFz16, ref fpsr, alternative: ahp);
        State.Fpsr = fpsr;
        return result;
    }
}

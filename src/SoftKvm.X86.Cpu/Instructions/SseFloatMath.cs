using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>The SIMD floating-point operations the instructions share.</summary>
internal enum FpOp
{
    Add,
    Sub,
    Mul,
    Div,
    Sqrt,
}

/// <summary>
/// IEEE 754 arithmetic with x86 SSE semantics, on the bit patterns of single and double precision
/// values: MXCSR rounding control (the host computes round-to-nearest and the exact error's sign
/// selects the directed-rounding neighbour: TwoSum for add/sub, a fused multiply-add residual for
/// mul/div/sqrt, scaled where the residual could underflow), DAZ and FTZ, the six exception flags
/// (tininess detected after rounding), and the x86 NaN rules: the first source operand's NaN wins,
/// an SNaN is quieted, invalid operations return the negative QNaN "indefinite".
/// Single-precision operations compute exactly or with a known error sign in double precision and
/// are rounded once to single precision (double has more than 2p+2 bits, so no double rounding).
/// </summary>
internal static class SseFloatMath
{
    public const uint IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
    public const uint Daz = 1 << 6, Ftz = 1 << 15, UnderflowMask = 1 << 11;
    public const uint DefaultNaN32 = 0xFFC00000;
    public const ulong DefaultNaN64 = 0xFFF8000000000000;

    private static readonly float MinNormal32 = BitConverter.Int32BitsToSingle(0x00800000);
    private static readonly double MinNormal64 = BitConverter.UInt64BitsToDouble(0x0010000000000000);
    private static readonly double TwoM900 = Math.ScaleB(1.0, -900);
    private static readonly double TwoM400 = Math.ScaleB(1.0, -400);
    private static readonly double TwoP400 = Math.ScaleB(1.0, 400);

    // ---- Classification ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN32(uint a) => (a & 0x7FFFFFFF) > 0x7F800000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN64(ulong a) => (a & 0x7FFFFFFFFFFFFFFF) > 0x7FF0000000000000;

    public static bool IsSNaN32(uint a) => IsNaN32(a) && (a & 0x00400000) == 0;

    public static bool IsSNaN64(ulong a) => IsNaN64(a) && (a & 0x0008000000000000) == 0;

    public static bool IsDenormal32(uint a) => (a & 0x7F800000) == 0 && (a & 0x007FFFFF) != 0;

    public static bool IsDenormal64(ulong a) => (a & 0x7FF0000000000000) == 0 && (a & 0x000FFFFFFFFFFFFF) != 0;

    /// <summary>Applies DAZ (denormal to signed zero) or reports the denormal operand (DE).</summary>
    public static uint Operand32(uint a, uint mxcsr, ref uint flags)
    {
        if (IsDenormal32(a))
        {
            if ((mxcsr & Daz) != 0)
            {
                return a & 0x80000000;
            }

            flags |= DE;
        }

        return a;
    }

    /// <summary>Applies DAZ or reports DE for a double operand.</summary>
    public static ulong Operand64(ulong a, uint mxcsr, ref uint flags)
    {
        if (IsDenormal64(a))
        {
            if ((mxcsr & Daz) != 0)
            {
                return a & 0x8000000000000000;
            }

            flags |= DE;
        }

        return a;
    }

    /// <summary>The sign of a residual (-1, 0, 1); never throws (a NaN, which the callers rule out, counts as 0).</summary>
    internal static int Sign(double d) => d > 0 ? 1 : d < 0 ? -1 : 0;

    private static int Rc(uint mxcsr) => (int)(mxcsr >> 13) & 3;

    // ---- Arithmetic ----

    /// <summary>Single precision: a op b (a is the first source / destination; sqrt uses b only).</summary>
    public static uint Arith32(FpOp op, uint a, uint b, uint mxcsr, ref uint flags)
    {
        bool an = op != FpOp.Sqrt && IsNaN32(a), bn = IsNaN32(b);
        if (an || bn)
        {
            if ((op != FpOp.Sqrt && IsSNaN32(a)) || IsSNaN32(b))
            {
                flags |= IE;
            }

            return (an ? a : b) | 0x00400000;
        }

        uint pre = 0;
        if (op != FpOp.Sqrt)
        {
            a = Operand32(a, mxcsr, ref pre);
        }

        b = Operand32(b, mxcsr, ref pre);
        double x = BitConverter.Int32BitsToSingle((int)a), y = BitConverter.Int32BitsToSingle((int)b);
        bool ok = Special(op, x, y, ref pre, out double r, out int e);
        if ((pre & (IE | ZE)) != 0)
        {
            pre &= ~DE;
        }

        if (!ok)
        {
            flags |= pre;
            return (pre & IE) != 0 ? DefaultNaN32 : (uint)BitConverter.SingleToInt32Bits((float)r);
        }

        flags |= pre;
        r = SignedZero(op, x, y, r, e, mxcsr);
        uint post = 0;
        uint result = Finish32(r, e, mxcsr, ref post);
        if (UnmaskedOverflowOrUnderflow(post, mxcsr))
        {
            // The trap sees the result rounded with an unbounded exponent: PE reports that rounding only.
            double rs = Math.ScaleB(r, (post & OE) != 0 ? -192 : 192);
            post = (post & ~PE) | (e != 0 || (double)(float)rs != rs ? PE : 0);
        }

        flags |= post;
        return result;
    }

    private static bool UnmaskedOverflowOrUnderflow(uint post, uint mxcsr) => (post & (OE | UE) & ~(mxcsr >> 7)) != 0;

    /// <summary>Double precision: a op b (sqrt uses b only).</summary>
    public static ulong Arith64(FpOp op, ulong a, ulong b, uint mxcsr, ref uint flags)
    {
        bool an = op != FpOp.Sqrt && IsNaN64(a), bn = IsNaN64(b);
        if (an || bn)
        {
            if ((op != FpOp.Sqrt && IsSNaN64(a)) || IsSNaN64(b))
            {
                flags |= IE;
            }

            return (an ? a : b) | 0x0008000000000000;
        }

        uint pre = 0;
        if (op != FpOp.Sqrt)
        {
            a = Operand64(a, mxcsr, ref pre);
        }

        b = Operand64(b, mxcsr, ref pre);
        double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
        bool ok = Special(op, x, y, ref pre, out double r, out int e);
        if ((pre & (IE | ZE)) != 0)
        {
            pre &= ~DE;
        }

        if (!ok)
        {
            flags |= pre;
            return (pre & IE) != 0 ? DefaultNaN64 : BitConverter.DoubleToUInt64Bits(r);
        }

        flags |= pre;
        r = SignedZero(op, x, y, r, e, mxcsr);
        uint post = 0;
        ulong result = Finish64(r, e, mxcsr, ref post);
        if (UnmaskedOverflowOrUnderflow(post, mxcsr) && op != FpOp.Sqrt)
        {
            // Recompute in a scaled range to learn whether the unbounded-exponent rounding is inexact.
            double xs, ys;
            if (op is FpOp.Add or FpOp.Sub)
            {
                int k = -Math.ILogB(Math.Max(Math.Abs(x), Math.Abs(y)));
                xs = Math.ScaleB(x, k);
                ys = Math.ScaleB(y, k);
            }
            else
            {
                xs = x == 0 ? x : Math.ScaleB(x, -Math.ILogB(x));
                ys = y == 0 ? y : Math.ScaleB(y, -Math.ILogB(y));
            }

            uint ignored = 0;
            Special(op, xs, ys, ref ignored, out _, out int es);
            post = (post & ~PE) | (es != 0 ? PE : 0);
        }

        flags |= post;
        return result;
    }

    /// <summary>
    /// Handles invalid operations, division by zero and infinite operands (false: <paramref name="r"/>
    /// is final or IE is set), else computes the round-to-nearest result and the sign of the exact
    /// error (exact minus rounded).
    /// </summary>
    private static bool Special(FpOp op, double x, double y, ref uint flags, out double r, out int e)
    {
        e = 0;
        switch (op)
        {
            case FpOp.Add:
            case FpOp.Sub:
            {
                double yy = op == FpOp.Sub ? -y : y;
                if (double.IsInfinity(x) || double.IsInfinity(yy))
                {
                    if (double.IsInfinity(x) && double.IsInfinity(yy) && (x > 0) != (yy > 0))
                    {
                        flags |= IE;
                        r = 0;
                        return false;
                    }

                    r = double.IsInfinity(x) ? x : yy;
                    return false;
                }

                r = x + yy;
                if (double.IsInfinity(r))
                {
                    return true;
                }

                // Fast2Sum on the operands ordered by magnitude: r - big is exact and cannot overflow.
                double big = Math.Abs(x) >= Math.Abs(yy) ? x : yy, small = Math.Abs(x) >= Math.Abs(yy) ? yy : x;
                e = Sign(small - (r - big));
                return true;
            }

            case FpOp.Mul:
            {
                if (double.IsInfinity(x) || double.IsInfinity(y))
                {
                    if (x == 0 || y == 0)
                    {
                        flags |= IE;
                        r = 0;
                        return false;
                    }

                    r = x * y;
                    return false;
                }

                r = x * y;
                if (double.IsInfinity(r))
                {
                    return true;
                }

                if (Math.Abs(r) < TwoM900)
                {
                    int k = 0;
                    double xs = x, ys = y;
                    if (Math.Abs(x) < TwoM400)
                    {
                        xs = Math.ScaleB(x, 600);
                        k += 600;
                    }

                    if (Math.Abs(y) < TwoM400)
                    {
                        ys = Math.ScaleB(y, 600);
                        k += 600;
                    }

                    e = Sign(Math.FusedMultiplyAdd(xs, ys, -Math.ScaleB(r, k)));
                }
                else
                {
                    e = Sign(Math.FusedMultiplyAdd(x, y, -r));
                }

                return true;
            }

            case FpOp.Div:
            {
                if (double.IsNaN(x / y) || (double.IsInfinity(x) && double.IsInfinity(y)))
                {
                    flags |= IE;
                    r = 0;
                    return false;
                }

                if (double.IsInfinity(x) || double.IsInfinity(y))
                {
                    r = x / y;
                    return false;
                }

                if (y == 0)
                {
                    flags |= ZE;
                    r = x / y;
                    return false;
                }

                r = x / y;
                if (double.IsInfinity(r))
                {
                    return true;
                }

                double res;
                if (Math.Abs(x) < TwoM900)
                {
                    res = Math.Abs(y) < TwoP400
                        ? Math.FusedMultiplyAdd(-r, Math.ScaleB(y, 600), Math.ScaleB(x, 600))
                        : Math.FusedMultiplyAdd(-Math.ScaleB(r, 600), y, Math.ScaleB(x, 600));
                }
                else if (Math.Abs(r) < TwoM900)
                {
                    res = Math.FusedMultiplyAdd(-Math.ScaleB(r, 600), y, Math.ScaleB(x, 600));
                }
                else
                {
                    res = Math.FusedMultiplyAdd(-r, y, x);
                }

                e = Sign(res) * Sign(y);
                return true;
            }

            default:
            {
                if (y < 0)
                {
                    flags |= IE;
                    r = 0;
                    return false;
                }

                if (double.IsInfinity(y) || y == 0)
                {
                    r = y;
                    return false;
                }

                r = Math.Sqrt(y);
                double res = y < TwoM900
                    ? Math.FusedMultiplyAdd(-Math.ScaleB(r, 300), Math.ScaleB(r, 300), Math.ScaleB(y, 600))
                    : Math.FusedMultiplyAdd(-r, r, y);
                e = Sign(res);
                return true;
            }
        }
    }

    /// <summary>An exact zero sum or difference is -0 when rounding down (unless both addends are +0).</summary>
    private static double SignedZero(FpOp op, double x, double y, double r, int e, uint mxcsr)
    {
        if (r != 0 || e != 0 || op is not (FpOp.Add or FpOp.Sub) || Rc(mxcsr) != 1)
        {
            return r;
        }

        double yy = op == FpOp.Sub ? -y : y;
        bool bothPositiveZero = x == 0 && yy == 0 && !double.IsNegative(x) && !double.IsNegative(yy);
        return bothPositiveZero ? 0.0 : -0.0;
    }

    // ---- Rounding to the destination format ----

    /// <summary>Rounds a value known as (round-to-nearest double <paramref name="r"/>, sign of the exact error
    /// <paramref name="e"/>) to single precision with MXCSR rounding, overflow, underflow and FTZ.</summary>
    public static uint Finish32(double r, int e, uint mxcsr, ref uint flags)
    {
        int rc = Rc(mxcsr);
        float f = (float)r;
        if (float.IsInfinity(f))
        {
            flags |= OE | PE;
            return (uint)BitConverter.SingleToInt32Bits(OverflowResult32(r < 0, rc));
        }

        bool inexact = e != 0;
        if ((double)f != r)
        {
            inexact = true;
            float lo = (double)f < r ? f : MathF.BitDecrement(f);
            float hi = (double)f < r ? MathF.BitIncrement(f) : f;
            f = rc switch
            {
                0 => ((double)lo + (double)hi) * 0.5 == r && e != 0 ? (e > 0 ? hi : lo) : f,
                1 => lo,
                2 => hi,
                _ => r > 0 ? lo : hi,
            };
        }
        else if (e != 0)
        {
            f = rc switch
            {
                1 when e < 0 => MathF.BitDecrement(f),
                2 when e > 0 => MathF.BitIncrement(f),
                3 when (e > 0 && f < 0) || (e < 0 && f > 0) => e > 0 ? MathF.BitIncrement(f) : MathF.BitDecrement(f),
                _ => f,
            };
        }

        if (float.IsInfinity(f))
        {
            flags |= OE | PE;
            return (uint)BitConverter.SingleToInt32Bits(f);
        }

        if (inexact)
        {
            flags |= PE;
        }

        if (MathF.Abs(f) < MinNormal32 && (f != 0 || inexact))
        {
            bool masked = (mxcsr & UnderflowMask) != 0;
            if (!masked || inexact)
            {
                flags |= UE;
            }

            if (masked && (mxcsr & Ftz) != 0)
            {
                flags |= UE | PE;
                f = float.IsNegative(f) ? -0.0f : 0.0f;
            }
        }

        return (uint)BitConverter.SingleToInt32Bits(f);
    }

    /// <summary>Rounds (round-to-nearest <paramref name="r"/>, error sign <paramref name="e"/>) with MXCSR rounding, overflow, underflow and FTZ.</summary>
    public static ulong Finish64(double r, int e, uint mxcsr, ref uint flags)
    {
        int rc = Rc(mxcsr);
        if (double.IsInfinity(r))
        {
            flags |= OE | PE;
            return BitConverter.DoubleToUInt64Bits(OverflowResult64(r < 0, rc));
        }

        bool inexact = e != 0;
        if (inexact)
        {
            r = rc switch
            {
                1 when e < 0 => Math.BitDecrement(r),
                2 when e > 0 => Math.BitIncrement(r),
                3 when (e > 0 && r < 0) || (e < 0 && r > 0) => e > 0 ? Math.BitIncrement(r) : Math.BitDecrement(r),
                _ => r,
            };
            flags |= PE;
        }

        if (double.IsInfinity(r))
        {
            flags |= OE | PE;
            return BitConverter.DoubleToUInt64Bits(r);
        }

        if (Math.Abs(r) < MinNormal64 && (r != 0 || inexact))
        {
            bool masked = (mxcsr & UnderflowMask) != 0;
            if (!masked || inexact)
            {
                flags |= UE;
            }

            if (masked && (mxcsr & Ftz) != 0)
            {
                flags |= UE | PE;
                r = double.IsNegative(r) ? -0.0 : 0.0;
            }
        }

        return BitConverter.DoubleToUInt64Bits(r);
    }

    private static float OverflowResult32(bool negative, int rc) => rc switch
    {
        0 => negative ? float.NegativeInfinity : float.PositiveInfinity,
        1 => negative ? float.NegativeInfinity : float.MaxValue,
        2 => negative ? -float.MaxValue : float.PositiveInfinity,
        _ => negative ? -float.MaxValue : float.MaxValue,
    };

    private static double OverflowResult64(bool negative, int rc) => rc switch
    {
        0 => negative ? double.NegativeInfinity : double.PositiveInfinity,
        1 => negative ? double.NegativeInfinity : double.MaxValue,
        2 => negative ? -double.MaxValue : double.PositiveInfinity,
        _ => negative ? -double.MaxValue : double.MaxValue,
    };

    // ---- MIN / MAX ----

    /// <summary>MINSS/MAXSS element: either NaN (IE, even for a QNaN) or both zero returns the second operand unchanged.</summary>
    public static uint MinMax32(bool max, uint a, uint b, uint mxcsr, ref uint flags)
    {
        if ((mxcsr & Daz) != 0)
        {
            a = IsDenormal32(a) ? a & 0x80000000 : a;
            b = IsDenormal32(b) ? b & 0x80000000 : b;
        }

        if (IsNaN32(a) || IsNaN32(b))
        {
            flags |= IE;
            return b;
        }

        a = Operand32(a, mxcsr, ref flags);
        b = Operand32(b, mxcsr, ref flags);
        float x = BitConverter.Int32BitsToSingle((int)a), y = BitConverter.Int32BitsToSingle((int)b);
        return (max ? x > y : x < y) ? a : b;
    }

    /// <summary>MINSD/MAXSD element.</summary>
    public static ulong MinMax64(bool max, ulong a, ulong b, uint mxcsr, ref uint flags)
    {
        if ((mxcsr & Daz) != 0)
        {
            a = IsDenormal64(a) ? a & 0x8000000000000000 : a;
            b = IsDenormal64(b) ? b & 0x8000000000000000 : b;
        }

        if (IsNaN64(a) || IsNaN64(b))
        {
            flags |= IE;
            return b;
        }

        a = Operand64(a, mxcsr, ref flags);
        b = Operand64(b, mxcsr, ref flags);
        double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
        return (max ? x > y : x < y) ? a : b;
    }

    // ---- Compare ----

    /// <summary>
    /// The CMPccPS predicate (imm8 bits 2:0: EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD) given the ordering of the
    /// operands (-1, 0, 1, or 2 = unordered) and whether a QNaN signals IE (LT, LE, NLT, NLE do).
    /// </summary>
    public static bool Predicate(int predicate, int order, out bool signalsOnQNaN)
    {
        signalsOnQNaN = predicate is 1 or 2 or 5 or 6;
        bool un = order == 2;
        return predicate switch
        {
            0 => order == 0,
            1 => order == -1,
            2 => order is -1 or 0,
            3 => un,
            4 => order != 0,
            5 => order != -1,
            6 => !(order is -1 or 0),
            _ => !un,
        };
    }

    /// <summary>Orders two singles (2 = unordered), reporting IE (SNaN, or any NaN when <paramref name="signaling"/>) and DE.</summary>
    public static int Order32(uint a, uint b, bool signaling, uint mxcsr, ref uint flags)
    {
        if (IsNaN32(a) || IsNaN32(b))
        {
            if (signaling || IsSNaN32(a) || IsSNaN32(b))
            {
                flags |= IE;
            }

            return 2;
        }

        a = Operand32(a, mxcsr, ref flags);
        b = Operand32(b, mxcsr, ref flags);
        float x = BitConverter.Int32BitsToSingle((int)a), y = BitConverter.Int32BitsToSingle((int)b);
        return x < y ? -1 : x > y ? 1 : 0;
    }

    /// <summary>Orders two doubles (2 = unordered).</summary>
    public static int Order64(ulong a, ulong b, bool signaling, uint mxcsr, ref uint flags)
    {
        if (IsNaN64(a) || IsNaN64(b))
        {
            if (signaling || IsSNaN64(a) || IsSNaN64(b))
            {
                flags |= IE;
            }

            return 2;
        }

        a = Operand64(a, mxcsr, ref flags);
        b = Operand64(b, mxcsr, ref flags);
        double x = BitConverter.UInt64BitsToDouble(a), y = BitConverter.UInt64BitsToDouble(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }

    // ---- Conversions ----

    /// <summary>Float to integer (32 or 64 bits) with MXCSR rounding or truncation; NaN and out-of-range values
    /// give the "integer indefinite" (only the sign bit set) and IE.</summary>
    public static ulong ToInt(double x, int bits, bool truncate, uint mxcsr, ref uint flags)
    {
        ulong indefinite = bits == 32 ? 0x80000000UL : 0x8000000000000000UL;
        if (double.IsNaN(x) || double.IsInfinity(x))
        {
            flags |= IE;
            return indefinite;
        }

        double rounded = truncate ? Math.Truncate(x) : Rc(mxcsr) switch
        {
            0 => Math.Round(x, MidpointRounding.ToEven),
            1 => Math.Floor(x),
            2 => Math.Ceiling(x),
            _ => Math.Truncate(x),
        };
        double limit = bits == 32 ? 2147483648.0 : 9223372036854775808.0;
        if (rounded >= limit || rounded < -limit)
        {
            flags |= IE;
            return indefinite;
        }

        if (rounded != x)
        {
            flags |= PE;
        }

        long v = (long)rounded;
        return bits == 32 ? (uint)(int)v : (ulong)v;
    }

    /// <summary>A signed 64-bit integer as (round-to-nearest double, sign of the exact error).</summary>
    public static double FromInt64(long v, out int e)
    {
        double r = v;
        Int128 diff = (Int128)v - (Int128)r;
        e = diff > 0 ? 1 : diff < 0 ? -1 : 0;
        return r;
    }

    /// <summary>Single to double (exact; NaNs quieted with their payload).</summary>
    public static ulong SingleToDouble(uint a, uint mxcsr, ref uint flags)
    {
        if (IsNaN32(a))
        {
            if (IsSNaN32(a))
            {
                flags |= IE;
            }

            return ((ulong)(a & 0x80000000) << 32) | 0x7FF8000000000000UL | ((ulong)(a & 0x003FFFFF) << 29);
        }

        a = Operand32(a, mxcsr, ref flags);
        return BitConverter.DoubleToUInt64Bits(BitConverter.Int32BitsToSingle((int)a));
    }

    /// <summary>Double to single with MXCSR rounding (NaNs quieted with the top of their payload).</summary>
    public static uint DoubleToSingle(ulong a, uint mxcsr, ref uint flags)
    {
        if (IsNaN64(a))
        {
            if (IsSNaN64(a))
            {
                flags |= IE;
            }

            return (uint)((a >> 32) & 0x80000000) | 0x7FC00000 | (uint)((a >> 29) & 0x003FFFFF);
        }

        a = Operand64(a, mxcsr, ref flags);
        double x = BitConverter.UInt64BitsToDouble(a);
        if (double.IsInfinity(x))
        {
            return x > 0 ? 0x7F800000u : 0xFF800000u;
        }

        uint post = 0;
        uint result = Finish32(x, 0, mxcsr, ref post);
        if (UnmaskedOverflowOrUnderflow(post, mxcsr))
        {
            // Exact with an unbounded exponent when the significand spans at most 24 bits.
            ulong frac = a & 0x000FFFFFFFFFFFFF;
            ulong mant = (a & 0x7FF0000000000000) != 0 ? frac | (1UL << 52) : frac;
            int span = 64 - System.Numerics.BitOperations.LeadingZeroCount(mant) - System.Numerics.BitOperations.TrailingZeroCount(mant);
            post = (post & ~PE) | (span > 24 ? PE : 0);
        }

        flags |= post;
        return result;
    }
}

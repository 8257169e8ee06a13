using System.Numerics;
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
/// A binary floating-point format of the SSE unit, as the bit pattern <typeparamref name="T"/>: the
/// operations of <see cref="SseFloatMath"/> are written once over it, for single and double precision.
/// </summary>
internal interface IFloatFormat<T>
    where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    /// <summary>The sign bit.</summary>
    static abstract T SignBit { get; }

    /// <summary>The exponent field (all ones: infinity or NaN).</summary>
    static abstract T ExponentMask { get; }

    /// <summary>The most significant fraction bit (set: a quiet NaN).</summary>
    static abstract T QuietBit { get; }

    /// <summary>The "indefinite" QNaN an invalid operation returns.</summary>
    static abstract T DefaultNaN { get; }

    /// <summary>The value of <paramref name="a"/> (exact in double precision).</summary>
    static abstract double ToDouble(T a);

    /// <summary>The bits of <paramref name="r"/>, which the format represents exactly.</summary>
    static abstract T FromExact(double r);

    /// <summary>Rounds (round-to-nearest <paramref name="r"/>, error sign <paramref name="e"/>) to the format with MXCSR rounding, overflow, underflow and FTZ.</summary>
    static abstract T Finish(double r, int e, uint mxcsr, ref uint flags);

    /// <summary>
    /// The flags <paramref name="post"/> of a result whose overflow or underflow traps, with PE telling
    /// whether the result rounded with an unbounded exponent (what the trap handler sees) is inexact.
    /// </summary>
    static abstract uint UnboundedPrecision(FpOp op, double x, double y, double r, int e, uint post);
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

    // ---- Formats ----

    /// <summary>Single precision.</summary>
    internal readonly struct Binary32 : IFloatFormat<uint>
    {
        public static uint SignBit => 0x80000000;

        public static uint ExponentMask => 0x7F800000;

        public static uint QuietBit => 0x00400000;

        public static uint DefaultNaN => DefaultNaN32;

        public static double ToDouble(uint a) => BitConverter.Int32BitsToSingle((int)a);

        public static uint FromExact(double r) => (uint)BitConverter.SingleToInt32Bits((float)r);

        public static uint Finish(double r, int e, uint mxcsr, ref uint flags) => Finish32(r, e, mxcsr, ref flags);

        public static uint UnboundedPrecision(FpOp op, double x, double y, double r, int e, uint post)
        {
            // Exact in double: the single result scaled back into range shows the unbounded rounding.
            double rs = Math.ScaleB(r, (post & OE) != 0 ? -192 : 192);
            return (post & ~PE) | (e != 0 || (double)(float)rs != rs ? PE : 0);
        }
    }

    /// <summary>Double precision.</summary>
    internal readonly struct Binary64 : IFloatFormat<ulong>
    {
        public static ulong SignBit => 0x8000000000000000;

        public static ulong ExponentMask => 0x7FF0000000000000;

        public static ulong QuietBit => 0x0008000000000000;

        public static ulong DefaultNaN => DefaultNaN64;

        public static double ToDouble(ulong a) => BitConverter.UInt64BitsToDouble(a);

        public static ulong FromExact(double r) => BitConverter.DoubleToUInt64Bits(r);

        public static ulong Finish(double r, int e, uint mxcsr, ref uint flags) => Finish64(r, e, mxcsr, ref flags);

        public static uint UnboundedPrecision(FpOp op, double x, double y, double r, int e, uint post)
        {
            if (op == FpOp.Sqrt)
            {
                return post;
            }

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
            return (post & ~PE) | (es != 0 ? PE : 0);
        }
    }

    // ---- Classification ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN<F, T>(T a)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> => (a & ~F.SignBit) > F.ExponentMask;

    public static bool IsSNaN<F, T>(T a)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> => IsNaN<F, T>(a) && (a & F.QuietBit) == T.Zero;

    public static bool IsDenormal<F, T>(T a)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> => (a & F.ExponentMask) == T.Zero && (a & ~(F.SignBit | F.ExponentMask)) != T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN32(uint a) => IsNaN<Binary32, uint>(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNaN64(ulong a) => IsNaN<Binary64, ulong>(a);

    public static bool IsSNaN32(uint a) => IsSNaN<Binary32, uint>(a);

    public static bool IsSNaN64(ulong a) => IsSNaN<Binary64, ulong>(a);

    public static bool IsDenormal32(uint a) => IsDenormal<Binary32, uint>(a);

    public static bool IsDenormal64(ulong a) => IsDenormal<Binary64, ulong>(a);

    /// <summary>Applies DAZ (denormal to signed zero) or reports the denormal operand (DE).</summary>
    public static T Operand<F, T>(T a, uint mxcsr, ref uint flags)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (IsDenormal<F, T>(a))
        {
            if ((mxcsr & Daz) != 0)
            {
                return a & F.SignBit;
            }

            flags |= DE;
        }

        return a;
    }

    /// <summary>Applies DAZ or reports DE for a single operand.</summary>
    public static uint Operand32(uint a, uint mxcsr, ref uint flags) => Operand<Binary32, uint>(a, mxcsr, ref flags);

    /// <summary>Applies DAZ or reports DE for a double operand.</summary>
    public static ulong Operand64(ulong a, uint mxcsr, ref uint flags) => Operand<Binary64, ulong>(a, mxcsr, ref flags);

    /// <summary>The source value of a float-to-integer conversion: DAZ applies, and no DE is reported.</summary>
    public static double IntegerSource<F, T>(T a, uint mxcsr)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> => (mxcsr & Daz) != 0 && IsDenormal<F, T>(a) ? 0.0 : F.ToDouble(a);

    /// <summary>The sign of a residual (-1, 0, 1); never throws (a NaN, which the callers rule out, counts as 0).</summary>
    internal static int Sign(double d) => d > 0 ? 1 : d < 0 ? -1 : 0;

    private static int Rc(uint mxcsr) => (int)(mxcsr >> 13) & 3;

    // ---- Arithmetic ----

    /// <summary>a op b in format <typeparamref name="F"/> (a is the first source / destination; sqrt uses b only).</summary>
    public static T Arith<F, T>(FpOp op, T a, T b, uint mxcsr, ref uint flags)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        bool an = op != FpOp.Sqrt && IsNaN<F, T>(a), bn = IsNaN<F, T>(b);
        if (an || bn)
        {
            if ((op != FpOp.Sqrt && IsSNaN<F, T>(a)) || IsSNaN<F, T>(b))
            {
                flags |= IE;
            }

            return (an ? a : b) | F.QuietBit;
        }

        uint pre = 0;
        if (op != FpOp.Sqrt)
        {
            a = Operand<F, T>(a, mxcsr, ref pre);
        }

        b = Operand<F, T>(b, mxcsr, ref pre);
        double x = F.ToDouble(a), y = F.ToDouble(b);
        bool ok = Special(op, x, y, ref pre, out double r, out int e);
        if ((pre & (IE | ZE)) != 0)
        {
            pre &= ~DE;
        }

        if (!ok)
        {
            flags |= pre;
            return (pre & IE) != 0 ? F.DefaultNaN : F.FromExact(r);
        }

        flags |= pre;
        r = SignedZero(op, x, y, r, e, mxcsr);
        uint post = 0;
        T result = F.Finish(r, e, mxcsr, ref post);
        if (UnmaskedOverflowOrUnderflow(post, mxcsr))
        {
            post = F.UnboundedPrecision(op, x, y, r, e, post);
        }

        flags |= post;
        return result;
    }

    /// <summary>Single precision: a op b (sqrt uses b only).</summary>
    public static uint Arith32(FpOp op, uint a, uint b, uint mxcsr, ref uint flags) => Arith<Binary32, uint>(op, a, b, mxcsr, ref flags);

    /// <summary>Double precision: a op b (sqrt uses b only).</summary>
    public static ulong Arith64(FpOp op, ulong a, ulong b, uint mxcsr, ref uint flags) => Arith<Binary64, ulong>(op, a, b, mxcsr, ref flags);

    private static bool UnmaskedOverflowOrUnderflow(uint post, uint mxcsr) => (post & (OE | UE) & ~(mxcsr >> 7)) != 0;

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
            return (uint)BitConverter.SingleToInt32Bits(OverflowResult<float>(r < 0, rc));
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

        if (MathF.Abs(f) < MinNormal32 && (f != 0 || inexact) && Tiny(inexact, mxcsr, ref flags))
        {
            f = float.IsNegative(f) ? -0.0f : 0.0f;
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
            return BitConverter.DoubleToUInt64Bits(OverflowResult<double>(r < 0, rc));
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

        if (Math.Abs(r) < MinNormal64 && (r != 0 || inexact) && Tiny(inexact, mxcsr, ref flags))
        {
            r = double.IsNegative(r) ? -0.0 : 0.0;
        }

        return BitConverter.DoubleToUInt64Bits(r);
    }

    /// <summary>A tiny result (after rounding): UE when underflow is unmasked or the result inexact; true when FTZ flushes it to zero.</summary>
    private static bool Tiny(bool inexact, uint mxcsr, ref uint flags)
    {
        bool masked = (mxcsr & UnderflowMask) != 0;
        if (!masked || inexact)
        {
            flags |= UE;
        }

        if (masked && (mxcsr & Ftz) != 0)
        {
            flags |= UE | PE;
            return true;
        }

        return false;
    }

    /// <summary>The result of an overflow: infinity or the largest finite value, by the rounding direction.</summary>
    private static TFloat OverflowResult<TFloat>(bool negative, int rc)
        where TFloat : IFloatingPointIeee754<TFloat>, IMinMaxValue<TFloat> => rc switch
    {
        0 => negative ? TFloat.NegativeInfinity : TFloat.PositiveInfinity,
        1 => negative ? TFloat.NegativeInfinity : TFloat.MaxValue,
        2 => negative ? -TFloat.MaxValue : TFloat.PositiveInfinity,
        _ => negative ? -TFloat.MaxValue : TFloat.MaxValue,
    };

    // ---- MIN / MAX ----

    /// <summary>MIN/MAX element: either NaN (IE, even for a QNaN) or both zero returns the second operand unchanged.</summary>
    public static T MinMax<F, T>(bool max, T a, T b, uint mxcsr, ref uint flags)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if ((mxcsr & Daz) != 0)
        {
            a = IsDenormal<F, T>(a) ? a & F.SignBit : a;
            b = IsDenormal<F, T>(b) ? b & F.SignBit : b;
        }

        if (IsNaN<F, T>(a) || IsNaN<F, T>(b))
        {
            flags |= IE;
            return b;
        }

        a = Operand<F, T>(a, mxcsr, ref flags);
        b = Operand<F, T>(b, mxcsr, ref flags);
        double x = F.ToDouble(a), y = F.ToDouble(b);
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

    /// <summary>Orders two values (2 = unordered), reporting IE (SNaN, or any NaN when <paramref name="signaling"/>) and DE.</summary>
    public static int Order<F, T>(T a, T b, bool signaling, uint mxcsr, ref uint flags)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (IsNaN<F, T>(a) || IsNaN<F, T>(b))
        {
            if (signaling || IsSNaN<F, T>(a) || IsSNaN<F, T>(b))
            {
                flags |= IE;
            }

            return 2;
        }

        a = Operand<F, T>(a, mxcsr, ref flags);
        b = Operand<F, T>(b, mxcsr, ref flags);
        double x = F.ToDouble(a), y = F.ToDouble(b);
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

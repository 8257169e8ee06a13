using System.Numerics;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// Conversions between the 80-bit double-extended format and double precision / integers, exact
/// comparison and exact rounding to an integer. Loads and stores of m80 copy the bits, integer
/// loads and stores are exact in 80 bits; arithmetic is in <see cref="X87Extended"/>.
/// </summary>
internal static class X87Math
{
    public const ushort ExpMax = 0x7FFF;
    public const int Bias = 16383;

    public static Float80 Make(bool negative, int exponent, ulong significand) =>
        new() { Significand = significand, SignExponent = (ushort)((negative ? 0x8000 : 0) | exponent) };

    public static bool IsNegative(Float80 v) => (v.SignExponent & 0x8000) != 0;

    public static int Exponent(Float80 v) => v.SignExponent & 0x7FFF;

    public static bool IsNaN(Float80 v) => Exponent(v) == ExpMax && (v.Significand << 1) != 0;

    public static bool IsSNaN(Float80 v) => IsNaN(v) && (v.Significand & (1UL << 62)) == 0;

    public static bool IsInfinity(Float80 v) => Exponent(v) == ExpMax && (v.Significand << 1) == 0;

    public static bool IsZero(Float80 v) => Exponent(v) == 0 && v.Significand == 0;

    public static bool IsDenormal(Float80 v) => Exponent(v) == 0 && v.Significand != 0;

    /// <summary>Unsupported encodings (pseudo-NaN/infinity, unnormals): the integer bit disagrees with the exponent.</summary>
    public static bool IsUnsupported(Float80 v) => Exponent(v) != 0 && (v.Significand >> 63) == 0;

    public static readonly Float80 Indefinite = Make(true, ExpMax, 0xC000000000000000);

    public static Float80 Quiet(Float80 v) => new() { Significand = v.Significand | (1UL << 62), SignExponent = v.SignExponent };

    /// <summary>Double to 80-bit (exact).</summary>
    public static Float80 FromDouble(double d)
    {
        ulong bits = BitConverter.DoubleToUInt64Bits(d);
        bool neg = (bits >> 63) != 0;
        int e = (int)((bits >> 52) & 0x7FF);
        ulong frac = bits & 0x000FFFFFFFFFFFFF;
        if (e == 0x7FF)
        {
            return Make(neg, ExpMax, (1UL << 63) | (frac << 11));
        }

        if (e == 0)
        {
            if (frac == 0)
            {
                return Make(neg, 0, 0);
            }

            int lz = BitOperations.LeadingZeroCount(frac);
            return Make(neg, -1022 - (lz - 11) + Bias, frac << lz);
        }

        return Make(neg, e - 1023 + Bias, (1UL << 63) | (frac << 11));
    }

    /// <summary>An integer to 80-bit (exact).</summary>
    public static Float80 FromInt64(long v)
    {
        if (v == 0)
        {
            return Make(false, 0, 0);
        }

        ulong m = v < 0 ? (ulong)-v : (ulong)v;
        int lz = BitOperations.LeadingZeroCount(m);
        return Make(v < 0, 63 - lz + Bias, m << lz);
    }

    /// <summary>80-bit to the nearest double; <paramref name="e"/> is the sign of (exact - result). NaNs keep their
    /// quiet bit and the top of their payload.</summary>
    public static double ToDouble(Float80 v, out int e)
    {
        e = 0;
        bool neg = IsNegative(v);
        int exp = Exponent(v);
        ulong m = v.Significand;
        if (exp == ExpMax)
        {
            if ((m << 1) == 0)
            {
                return neg ? double.NegativeInfinity : double.PositiveInfinity;
            }

            ulong bits = (neg ? 1UL << 63 : 0) | 0x7FF0000000000000UL | ((m >> 11) & 0x000FFFFFFFFFFFFF);
            if ((bits & 0x000FFFFFFFFFFFFF) == 0)
            {
                bits |= 1UL << 51;
            }

            return BitConverter.UInt64BitsToDouble(bits);
        }

        if (m == 0)
        {
            return neg ? -0.0 : 0.0;
        }

        // The value is m * 2^(exp - Bias - 63) (denormals: exponent 1 - Bias). Round m to 53 bits first
        // when the result is normal; ScaleB then is exact.
        int unbiased = (exp == 0 ? 1 : exp) - Bias - 63;
        int lz = BitOperations.LeadingZeroCount(m);
        m <<= lz;
        unbiased -= lz;
        int resultExp = unbiased + 63;
        int keep = resultExp >= -1022 ? 53 : Math.Max(0, 53 - (-1022 - resultExp));
        if (resultExp > 1023 + 1)
        {
            e = neg ? 1 : -1;
            return neg ? double.NegativeInfinity : double.PositiveInfinity;
        }

        if (resultExp < -1075)
        {
            e = neg ? -1 : 1;
            return neg ? -0.0 : 0.0;
        }

        int drop = 64 - keep;
        ulong q = drop >= 64 ? 0 : m >> drop;
        ulong rem = drop >= 64 ? m : m & ((1UL << drop) - 1);
        ulong half = drop == 0 ? 0 : drop >= 64 ? 1UL << 63 : 1UL << (drop - 1);
        bool roundUp = drop > 0 && (rem > half || (rem == half && (q & 1) != 0));
        if (drop > 0 && rem != 0)
        {
            e = roundUp ? -1 : 1;
        }

        if (roundUp)
        {
            q++;
        }

        double r = Math.ScaleB((double)q, unbiased + drop);
        if (neg)
        {
            r = -r;
            e = -e;
        }

        return r;
    }

    /// <summary>Exact ordering of two non-NaN values: -1, 0, 1.</summary>
    public static int Compare(Float80 a, Float80 b)
    {
        bool az = IsZero(a), bz = IsZero(b);
        if (az && bz)
        {
            return 0;
        }

        int sa = az ? 0 : IsNegative(a) ? -1 : 1;
        int sb = bz ? 0 : IsNegative(b) ? -1 : 1;
        if (sa != sb)
        {
            return sa < sb ? -1 : 1;
        }

        // Same sign, both nonzero: compare magnitudes (normalizing denormals).
        int c = CompareMagnitude(a, b);
        return sa > 0 ? c : -c;
    }

    private static int CompareMagnitude(Float80 a, Float80 b)
    {
        Normalize(a, out int ea, out ulong ma);
        Normalize(b, out int eb, out ulong mb);
        if (ea != eb)
        {
            return ea < eb ? -1 : 1;
        }

        return ma.CompareTo(mb);
    }

    private static void Normalize(Float80 v, out int exp, out ulong m)
    {
        exp = Exponent(v);
        m = v.Significand;
        if (exp == ExpMax)
        {
            exp = int.MaxValue;
            return;
        }

        if (exp == 0)
        {
            exp = 1;
        }

        int lz = BitOperations.LeadingZeroCount(m);
        m <<= lz;
        exp -= lz;
    }

    /// <summary>
    /// Rounds a finite value to an integer with rounding control <paramref name="rc"/> (0 nearest-even, 1 down,
    /// 2 up, 3 toward zero). Returns false when the rounded magnitude does not fit 64 bits; <paramref name="inexact"/>
    /// reports a discarded fraction, <paramref name="roundedUp"/> a magnitude increased by the rounding (x87 C1).
    /// </summary>
    public static bool RoundToInteger(Float80 v, int rc, out bool negative, out UInt128 magnitude, out bool inexact, out bool roundedUp)
    {
        negative = IsNegative(v);
        inexact = false;
        roundedUp = false;
        magnitude = 0;
        int exp = Exponent(v);
        ulong m = v.Significand;
        if (m == 0)
        {
            return true;
        }

        int shift = (exp == 0 ? 1 : exp) - Bias - 63; // value = m * 2^shift
        if (shift >= 0)
        {
            if (shift > 63)
            {
                return false;
            }

            magnitude = (UInt128)m << shift;
            return (magnitude >> 64) == 0;
        }

        int drop = -shift;
        if (drop >= 64)
        {
            inexact = true;
            bool up = rc switch
            {
                0 => drop == 64 && (m > (1UL << 63)),
                1 => negative,
                2 => !negative,
                _ => false,
            };
            magnitude = up ? 1u : 0u;
            roundedUp = up;
            return true;
        }

        ulong q = m >> drop;
        ulong rem = m & ((1UL << drop) - 1);
        ulong half = 1UL << (drop - 1);
        inexact = rem != 0;
        bool roundUp = inexact && rc switch
        {
            0 => rem > half || (rem == half && (q & 1) != 0),
            1 => negative,
            2 => !negative,
            _ => false,
        };
        magnitude = (UInt128)q + (roundUp ? 1u : 0u);
        roundedUp = roundUp;
        return true;
    }

    /// <summary>An integer magnitude (below 2^65) back to 80-bit.</summary>
    public static Float80 FromMagnitude(bool negative, UInt128 magnitude)
    {
        if (magnitude == 0)
        {
            return Make(negative, 0, 0);
        }

        if (magnitude >> 64 != 0)
        {
            return Make(negative, 64 + Bias, 1UL << 63);
        }

        ulong m = (ulong)magnitude;
        int lz = BitOperations.LeadingZeroCount(m);
        return Make(negative, 63 - lz + Bias, m << lz);
    }

    /// <summary>The FNSTENV/FSAVE tag of a valid register: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported).</summary>
    public static int Tag(Float80 v)
    {
        int exp = Exponent(v);
        if (exp == ExpMax || IsUnsupported(v) || (exp == 0 && v.Significand != 0))
        {
            return 2;
        }

        return exp == 0 ? 1 : 0;
    }
}

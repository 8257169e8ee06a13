namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The reciprocal and reciprocal square root estimates, FRECPX and the round-to-odd narrowing of FCVTXN,
/// after the Arm ARM pseudocode (DDI 0487, shared/functions/float: RecipEstimate, RecipSqrtEstimate,
/// FPRecipEstimate, FPRSqrtEstimate, UnsignedRecipEstimate, UnsignedRSqrtEstimate, FPRecpX, FPRoundBase
/// with FPRounding_ODD) for ARMv8.0 (no FEAT_RPRES): 8-bit estimates from two 512-entry tables built
/// once from the pseudocode's integer formulas, FPCR.FZ input flushing (IDC) and output flushing (UFC),
/// FPCR.DN, and the IOC/DZC/OFC/UFC/IXC flags the pseudocode raises.
/// </summary>
public sealed partial class Arm64Cpu
{
    private const ulong Frac52Mask = (1UL << 52) - 1;

    /// <summary>RecipEstimate(a) for a in 256..511 (256..511).</summary>
    private static readonly ushort[] s_recipEstimate = BuildRecipEstimate();

    /// <summary>RecipSqrtEstimate(a) for a in 128..511 (256..511).</summary>
    private static readonly ushort[] s_recipSqrtEstimate = BuildRecipSqrtEstimate();

    /// <summary>RecipEstimate, for the half-precision core.</summary>
    internal static ushort[] RecipEstimateTable => s_recipEstimate;

    /// <summary>RecipSqrtEstimate, for the half-precision core.</summary>
    internal static ushort[] RecipSqrtEstimateTable => s_recipSqrtEstimate;

    private static ushort[] BuildRecipEstimate()
    {
        var table = new ushort[512];
        for (int a = 256; a < 512; a++)
        {
            int b = (1 << 19) / ((a * 2) + 1);
            table[a] = (ushort)((b + 1) / 2);
        }

        return table;
    }

    private static ushort[] BuildRecipSqrtEstimate()
    {
        var table = new ushort[512];
        for (int a0 = 128; a0 < 512; a0++)
        {
            long a = a0 < 256 ? (a0 * 2) + 1 : (((a0 >> 1) << 1) + 1) * 2;
            long b = 512;
            while (a * (b + 1) * (b + 1) < (1L << 28))
            {
                b++;
            }

            table[a0] = (ushort)((b + 1) / 2);
        }

        return table;
    }

    /// <summary>UnsignedRecipEstimate (URECPE) of one 32-bit element.</summary>
    private static ulong UnsignedRecipEstimate(ulong x) =>
        (x & 0x8000_0000) == 0 ? 0xFFFF_FFFFUL : (ulong)s_recipEstimate[(x >> 23) & 0x1FF] << 23;

    /// <summary>UnsignedRSqrtEstimate (URSQRTE) of one 32-bit element.</summary>
    private static ulong UnsignedRSqrtEstimate(ulong x) =>
        (x & 0xC000_0000) == 0 ? 0xFFFF_FFFFUL : (ulong)s_recipSqrtEstimate[(x >> 23) & 0x1FF] << 23;

    /// <summary>The operand's fraction as 52 bits and its biased exponent.</summary>
    private static ulong Fraction52(ulong x, bool dbl, out int exp)
    {
        exp = dbl ? (int)(x >> 52) & 0x7FF : (int)(x >> 23) & 0xFF;
        return dbl ? x & Frac52Mask : (x & 0x7F_FFFF) << 29;
    }

    /// <summary>FPRecipEstimate (FRECPE) for single or double precision.</summary>
    private ulong FpRecipEstimate(ulong x, bool dbl)
    {
        x = FpIn(x, dbl);
        bool sign = SignBit(x, dbl);
        if (IsNaN(x, dbl))
        {
            return ProcessNaN(x, dbl);
        }

        if (IsInf(x, dbl))
        {
            return ZeroOf(sign, dbl);
        }

        if (IsZero(x, dbl))
        {
            FpFlag(FpsrDzc);
            return InfOf(sign, dbl);
        }

        ulong fraction = Fraction52(x, dbl, out int exp);
        if (exp == 0 && fraction < (1UL << 50))
        {
            // |x| < 2^-128 (single) or 2^-1024 (double): the reciprocal overflows.
            bool toInf = FpRMode switch
            {
                0 => true,
                1 => !sign,
                2 => sign,
                _ => false,
            };
            FpFlag(FpsrOfc | FpsrIxc);
            return toInf ? InfOf(sign, dbl) : MaxNormal(sign, dbl);
        }

        if ((State.Fpcr & FpcrFz) != 0 && exp >= (dbl ? 2045 : 253))
        {
            // |x| >= 2^1022 (double) or 2^126 (single): the result is flushed to zero.
            FpFlag(FpsrUfc);
            return ZeroOf(sign, dbl);
        }

        if (exp == 0)
        {
            if ((fraction & (1UL << 51)) == 0)
            {
                exp = -1;
                fraction = (fraction << 2) & Frac52Mask;
            }
            else
            {
                fraction = (fraction << 1) & Frac52Mask;
            }
        }

        int scaled = 256 | (int)(fraction >> 44);
        int resultExp = (dbl ? 2045 : 253) - exp;
        ulong estimate = s_recipEstimate[scaled];
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

        return dbl
            ? ZeroOf(sign, true) | ((ulong)(resultExp & 0x7FF) << 52) | fraction
            : ZeroOf(sign, false) | ((ulong)(resultExp & 0xFF) << 23) | (fraction >> 29);
    }

    /// <summary>FPRSqrtEstimate (FRSQRTE) for single or double precision.</summary>
    private ulong FpRSqrtEstimate(ulong x, bool dbl)
    {
        x = FpIn(x, dbl);
        bool sign = SignBit(x, dbl);
        if (IsNaN(x, dbl))
        {
            return ProcessNaN(x, dbl);
        }

        if (IsZero(x, dbl))
        {
            FpFlag(FpsrDzc);
            return InfOf(sign, dbl);
        }

        if (sign)
        {
            FpFlag(FpsrIoc);
            return DefaultNan(dbl);
        }

        if (IsInf(x, dbl))
        {
            return 0;
        }

        ulong fraction = Fraction52(x, dbl, out int exp);
        if (exp == 0)
        {
            while ((fraction & (1UL << 51)) == 0)
            {
                fraction <<= 1;
                exp--;
            }

            fraction = (fraction << 1) & Frac52Mask;
        }

        int scaled = (exp & 1) != 0 ? 128 | (int)(fraction >> 45) : 256 | (int)(fraction >> 44);
        int resultExp = ((dbl ? 3068 : 380) - exp) / 2;
        ulong estimate = s_recipSqrtEstimate[scaled] & 0xFFUL;
        return dbl
            ? ((ulong)(resultExp & 0x7FF) << 52) | (estimate << 44)
            : ((ulong)(resultExp & 0xFF) << 23) | (estimate << 15);
    }

    /// <summary>FPRecpX (FRECPX): the exponent inverted, the fraction zeroed.</summary>
    private ulong FpRecpX(ulong x, bool dbl)
    {
        ulong unpacked = FpIn(x, dbl);
        if (IsNaN(unpacked, dbl))
        {
            return ProcessNaN(unpacked, dbl);
        }

        int expBits = dbl ? 11 : 8, fracBits = dbl ? 52 : 23;
        ulong expMask = (1UL << expBits) - 1;
        ulong exp = (x >> fracBits) & expMask;
        ulong sign = ZeroOf(SignBit(x, dbl), dbl);
        return exp == 0 ? sign | ((expMask - 1) << fracBits) : sign | ((~exp & expMask) << fracBits);
    }

    private static ulong MaxNormal(bool sign, bool dbl) =>
        ZeroOf(sign, dbl) | (dbl ? 0x7FEF_FFFF_FFFF_FFFFUL : 0x7F7F_FFFFUL);

    /// <summary>
    /// FPConvert from double to single precision with FPRounding_ODD (FCVTXN): truncate, and set the
    /// lowest bit when the result is inexact; underflow is detected before rounding.
    /// </summary>
    private ulong FpConvertRoundOdd(ulong a)
    {
        a = FpIn(a, true);
        if (IsNaN(a, true))
        {
            return FpConvert(a, 2, 1);
        }

        bool sign = SignBit(a, true);
        if (IsInf(a, true))
        {
            return InfOf(sign, false);
        }

        if (IsZero(a, true))
        {
            return ZeroOf(sign, false);
        }

        int bexp = (int)(a >> 52) & 0x7FF;
        ulong m = bexp == 0 ? a & Frac52Mask : (a & Frac52Mask) | (1UL << 52);
        int e = bexp == 0 ? -1074 : bexp - 1075;                 // value = m * 2^e exactly
        int exponent = e + 63 - System.Numerics.BitOperations.LeadingZeroCount(m);
        if ((State.Fpcr & FpcrFz) != 0 && exponent < -126)
        {
            FpFlag(FpsrUfc);
            return ZeroOf(sign, false);
        }

        int biased = Math.Max(exponent + 127, 0);
        int lsbExp = biased == 0 ? -149 : exponent - 23;
        int shift = lsbExp - e;                                  // always > 0: a double has more bits
        ulong mant;
        bool inexact;
        if (shift >= 64)
        {
            mant = 0;
            inexact = true;
        }
        else
        {
            mant = m >> shift;
            inexact = (m & ((1UL << shift) - 1)) != 0;
        }

        if (biased == 0 && inexact)
        {
            FpFlag(FpsrUfc);
        }

        if (biased >= 255)
        {
            FpFlag(FpsrOfc | FpsrIxc);
            return MaxNormal(sign, false);
        }

        if (inexact)
        {
            FpFlag(FpsrIxc);
            mant |= 1;
        }

        return ZeroOf(sign, false) | ((ulong)biased << 23) | (mant & 0x7F_FFFF);
    }
}

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The FP-to-integral operations of the extensions: FRINT32Z/X and FRINT64Z/X (FEAT_FRINTTS, Arm ARM
/// FPRoundIntN: round to an integral value that fits a 32- or 64-bit integer, otherwise the most negative
/// such integer with Invalid Operation) and FJCVTZS (FEAT_JSCVT, FPToFixedJS: JavaScript's ToInt32,
/// truncation modulo 2^32, Z set only when the conversion was exact and in range).
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>FRINT32*/FRINT64*: <paramref name="intBits"/> is 32 or 64; rounding 3 (toward zero) or the FPCR mode.</summary>
    private ulong FpRoundIntN(ulong a, bool dbl, int rounding, int intBits)
    {
        a = FpIn(a, dbl);
        double min = -Math.Pow(2, intBits - 1);
        if (IsNaN(a, dbl) || double.IsInfinity(ToHost(a, dbl)))
        {
            FpFlag(FpsrIoc);
            return dbl ? Bits(min) : BitConverter.SingleToUInt32Bits((float)min);
        }

        double x = ToHost(a, dbl);
        if (x == 0)
        {
            return a;
        }

        double r = RoundIntegral(x, rounding);
        if (r < min || r >= -min)
        {
            FpFlag(FpsrIoc);
            return dbl ? Bits(min) : BitConverter.SingleToUInt32Bits((float)min);
        }

        if (r != x)
        {
            FpFlag(FpsrIxc);
        }

        return r == 0 ? ZeroOf(SignBit(a, dbl), dbl) : dbl ? Bits(r) : BitConverter.SingleToUInt32Bits((float)r);
    }

    /// <summary>FJCVTZS: the low 32 bits of the truncated double, and whether it was exact and in the int32 range (PSTATE.Z).</summary>
    private uint FpToInt32Js(ulong a, out bool exact)
    {
        exact = false;
        int biased = (int)(a >> 52) & 0x7FF;
        ulong fraction = a & ((1UL << 52) - 1);
        bool negative = (a >> 63) != 0;
        if (biased == 0x7FF)
        {
            FpFlag(FpsrIoc);
            return 0;
        }

        if (biased == 0)
        {
            if (fraction != 0)
            {
                if ((State.Fpcr & FpcrFz) != 0)
                {
                    FpFlag(FpsrIdc);
                    exact = !negative;
                    return 0;
                }

                FpFlag(FpsrIxc);
                return 0;
            }

            // -0.0 converts to 0 but is not exact (Arm ARM FPToFixedJS: Z = 0 for a negative zero).
            exact = !negative;
            return 0;
        }

        ulong mantissa = fraction | (1UL << 52);
        int shift = biased - 1075;
        ulong integer;
        bool inexact = false;
        if (shift >= 0)
        {
            integer = shift >= 64 ? 0 : mantissa << shift;
        }
        else
        {
            integer = -shift >= 64 ? 0 : mantissa >> -shift;
            inexact = -shift >= 64 ? mantissa != 0 : (mantissa & ((1UL << -shift) - 1)) != 0;
        }

        uint low = negative ? (uint)(0 - integer) : (uint)integer;
        bool inRange = shift < 11 && (negative ? integer <= 0x8000_0000UL : integer <= 0x7FFF_FFFFUL);
        if (!inRange)
        {
            FpFlag(FpsrIoc);
        }
        else if (inexact)
        {
            FpFlag(FpsrIxc);
        }

        exact = inRange && !inexact;
        return low;
    }
}

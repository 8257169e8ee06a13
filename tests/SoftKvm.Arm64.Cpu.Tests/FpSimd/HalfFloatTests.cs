namespace SoftKvm.Arm64.Cpu.Tests.FpSimd;

/// <summary>
/// The half-precision core (<see cref="HalfFloat"/>) against independent oracles: an exact integer
/// comparison (every half is a multiple of 2^-24 below 2^16, so the operation's exact result can be
/// compared with any half or midpoint in Int128) decides the correctly rounded result in each FPCR.RMode,
/// for add, subtract, multiply, divide, square root and the fused multiply-add; and the FPRound corner
/// cases (ties, overflow per mode, underflow detected before rounding, FZ16 on inputs and outputs, DN).
/// </summary>
public sealed class HalfFloatTests
{
    private const uint Rn = 0, Rp = 1u << 22, Rm = 2u << 22, Rz = 3u << 22;
    private static readonly uint[] s_modes = [Rn, Rp, Rm, Rz];

    /// <summary>A half's value as an integer multiple of 2^-24 (finite halves only).</summary>
    private static Int128 Units(uint h) => (Int128)(HalfFloat.ToDouble(h) * (1 << 24));

    /// <summary>
    /// The correctly rounded half of the positive exact value described by <paramref name="compare"/>
    /// (compare(u, scale) = sign of u·2^-scale minus the exact value), following FPRound without FZ16.
    /// </summary>
    private static uint Oracle(Func<Int128, int, int> compare, bool sign, uint fpcr, out bool inexact)
    {
        // The largest finite half at or below the exact magnitude (0x7BFF at most), by bisection on the bit patterns.
        uint lo = 0, hi = 0x7C00;
        while (hi - lo > 1)
        {
            uint mid = (lo + hi) / 2;
            if (compare(Units(mid), 24) <= 0)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        int atLo = compare(Units(lo), 24);
        inexact = atLo != 0;
        if (!inexact)
        {
            return lo | (sign ? 0x8000u : 0);
        }

        // lo < exact < lo + 1 ulp (lo + 1 is 0x7C00 when the exact value is beyond the largest normal).
        Int128 midpoint = (Units(lo) * 2) + (lo == 0x7BFF ? 32 << 24 : (Units(lo + 1) - Units(lo)));
        int atMid = compare(midpoint, 25);
        int mode = (int)(fpcr >> 22) & 3;
        bool up = mode switch
        {
            0 => atMid < 0 || (atMid == 0 && (lo & 1) != 0),
            1 => !sign,
            2 => sign,
            _ => false,
        };
        return (up ? lo + 1 : lo) | (sign ? 0x8000u : 0);
    }

    private static uint RandomFinite(Random rng)
    {
        while (true)
        {
            uint h = (uint)rng.Next(0x10000);
            if ((h & 0x7C00) != 0x7C00 && (h & 0x7FFF) != 0)
            {
                return h;
            }
        }
    }

    [Fact]
    public void AddSubMulDivSqrtFma_AreCorrectlyRoundedInEveryMode()
    {
        var rng = new Random(22);
        for (int i = 0; i < 40_000; i++)
        {
            uint a = RandomFinite(rng), b = RandomFinite(rng), c = RandomFinite(rng);
            if (rng.Next(4) == 0)
            {
                // Operands close in magnitude: cancellation and ties.
                b = (a & 0x7C00) | (b & 0x83FF) | ((a & 0x7C00) == 0 ? 1u : 0);
            }

            uint fpcr = s_modes[i & 3];
            Int128 ua = Units(a), ub = Units(b), uc = Units(c);

            // Each exact result as E * 2^-scale (add, sub: units of 2^-24; mul, fma: 2^-48).
            Check("add", a, b, fpcr, ua + ub, 24, (ref uint f) => HalfFloat.Add(a, b, false, fpcr, ref f));
            Check("sub", a, b, fpcr, ua - ub, 24, (ref uint f) => HalfFloat.Add(a, b, true, fpcr, ref f));
            Check("mul", a, b, fpcr, ua * ub, 48, (ref uint f) => HalfFloat.Mul(a, b, false, fpcr, ref f));
            Check("fma", a, b, fpcr, (uc << 24) + (ua * ub), 48, (ref uint f) => HalfFloat.MulAdd(c, a, b, fpcr, ref f));

            // |a| / |b|: u * 2^-scale against ua / ub is u * |ub| against |ua| * 2^scale.
            Int128 na = Int128.Abs(ua), nb = Int128.Abs(ub);
            uint div = Oracle((u, scale) => Int128.Sign((u * nb) - (na << scale)), (ua < 0) != (ub < 0), fpcr, out bool divInexact);
            Expect("div", a, b, fpcr, div, divInexact, (ref uint f) => HalfFloat.Div(a, b, fpcr, ref f));

            // sqrt(|a|): (u * 2^-scale)^2 against na * 2^-24.
            uint pa = a & 0x7FFF;
            uint sqrt = Oracle((u, scale) => Int128.Sign((u * u) - (na << ((2 * scale) - 24))), false, fpcr, out bool sqrtInexact);
            Expect("sqrt", pa, 0, fpcr, sqrt, sqrtInexact, (ref uint f) => HalfFloat.Sqrt(pa, fpcr, ref f));
        }
    }

    private delegate uint HalfOp(ref uint fpsr);

    /// <summary>Checks an operation whose exact result is <paramref name="exact"/> * 2^-<paramref name="exactScale"/>.</summary>
    private static void Check(string what, uint a, uint b, uint fpcr, Int128 exact, int exactScale, HalfOp op)
    {
        if (exact == 0)
        {
            uint fpsr = 0;
            Assert.Equal(fpcr == Rm ? 0x8000u : 0u, op(ref fpsr));
            Assert.Equal(0u, fpsr);
            return;
        }

        Int128 magnitude = Int128.Abs(exact);
        uint expected = Oracle((u, scale) => Int128.Sign((u << exactScale) - (magnitude << scale)), exact < 0, fpcr, out bool inexact);
        Expect(what, a, b, fpcr, expected, inexact, op);
    }

    private static void Expect(string what, uint a, uint b, uint fpcr, uint expected, bool inexact, HalfOp op)
    {
        uint fpsr = 0;
        uint got = op(ref fpsr);
        Assert.True(got == expected, $"{what} 0x{a:x4}, 0x{b:x4} mode {fpcr >> 22}: 0x{got:x4}, expected 0x{expected:x4}");
        Assert.True(inexact == ((fpsr & HalfFloat.Ixc) != 0), $"{what} 0x{a:x4}, 0x{b:x4} mode {fpcr >> 22}: FPSR 0x{fpsr:x}");
    }

    private static (uint Result, uint Fpsr) Run(HalfOp op)
    {
        uint fpsr = 0;
        uint r = op(ref fpsr);
        return (r, fpsr);
    }

    [Theory]
    [InlineData(Rn, 0x7C00u, 0xFC00u)]
    [InlineData(Rp, 0x7C00u, 0xFBFFu)]
    [InlineData(Rm, 0x7BFFu, 0xFC00u)]
    [InlineData(Rz, 0x7BFFu, 0xFBFFu)]
    public void Overflow_GivesInfinityOrTheLargestNormalByMode(uint mode, uint positive, uint negative)
    {
        Assert.Equal((positive, HalfFloat.Ofc | HalfFloat.Ixc), Run((ref uint f) => HalfFloat.Mul(0x7BFF, 0x4000, false, mode, ref f)));
        Assert.Equal((negative, HalfFloat.Ofc | HalfFloat.Ixc), Run((ref uint f) => HalfFloat.Mul(0xFBFF, 0x4000, false, mode, ref f)));
    }

    [Fact]
    public void Underflow_IsDetectedBeforeRounding_AndFz16FlushesWithoutIdc()
    {
        // 2^-14 * (1 - 2^-11) is tiny before rounding and ties to 2^-14 (the smallest normal): UFC and IXC.
        Assert.Equal((0x0400u, HalfFloat.Ufc | HalfFloat.Ixc), Run((ref uint f) => HalfFloat.Mul(0x0400, 0x3BFF, false, Rn, ref f)));

        // With FZ16 the same result is flushed to +0: UFC alone.
        Assert.Equal((0u, HalfFloat.Ufc), Run((ref uint f) => HalfFloat.Mul(0x0400, 0x3BFF, false, Rn | HalfFloat.FpcrFz16, ref f)));

        // An exact subnormal result is not an underflow; FZ16 flushes denormal inputs without IDC (FPUnpack, N = 16).
        Assert.Equal((0x0002u, 0u), Run((ref uint f) => HalfFloat.Add(0x0001, 0x0001, false, Rn, ref f)));
        Assert.Equal((0x8000u, 0u), Run((ref uint f) => HalfFloat.Add(0x8001, 0x8001, false, Rn | HalfFloat.FpcrFz16, ref f)));
        Assert.Equal((0x3C00u, 0u), Run((ref uint f) => HalfFloat.Add(0x03FF, 0x3C00, false, Rn | HalfFloat.FpcrFz16, ref f)));
    }

    [Fact]
    public void NaNs_AreQuietenedOrDefault_AndMaxMinNumberIgnoreOneQuietNaN()
    {
        Assert.Equal((0x7E01u, HalfFloat.Ioc), Run((ref uint f) => HalfFloat.Add(0x3C00, 0x7C01, false, Rn, ref f)));
        Assert.Equal((0x7E00u, HalfFloat.Ioc), Run((ref uint f) => HalfFloat.Add(0x3C00, 0x7C01, false, Rn | HalfFloat.FpcrDn, ref f)));
        Assert.Equal((0xFE05u, 0u), Run((ref uint f) => HalfFloat.Mul(0xFE05, 0x7E07, false, Rn, ref f)));
        Assert.Equal((HalfFloat.DefaultNaN, HalfFloat.Ioc), Run((ref uint f) => HalfFloat.Mul(0x7C00, 0x8000, false, Rn, ref f)));
        Assert.Equal((0xC000u, 0u), Run((ref uint f) => HalfFloat.Mul(0x7C00, 0x8000, true, Rn, ref f)));
        Assert.Equal((0x3C00u, 0u), Run((ref uint f) => HalfFloat.MaxMin(HalfFloat.MinMax.MaxNum, 0x7E00, 0x3C00, Rn, ref f)));
        Assert.Equal((0x3C00u, 0u), Run((ref uint f) => HalfFloat.MaxMin(HalfFloat.MinMax.MinNum, 0x3C00, 0x7E00, Rn, ref f)));
        Assert.Equal((0x7E00u, 0u), Run((ref uint f) => HalfFloat.MaxMin(HalfFloat.MinMax.Max, 0x7E00, 0x3C00, Rn, ref f)));
        Assert.Equal((0x0000u, 0u), Run((ref uint f) => HalfFloat.MaxMin(HalfFloat.MinMax.Max, 0x8000, 0x0000, Rn, ref f)));
        Assert.Equal((0x8000u, 0u), Run((ref uint f) => HalfFloat.MaxMin(HalfFloat.MinMax.Min, 0x0000, 0x8000, Rn, ref f)));

        // A quiet NaN addend with infinity times zero: the default NaN and IOC (FPMulAdd).
        Assert.Equal((HalfFloat.DefaultNaN, HalfFloat.Ioc), Run((ref uint f) => HalfFloat.MulAdd(0x7E11, 0x7C00, 0x0000, Rn, ref f)));
    }

    [Fact]
    public void ExactZeroSums_AreNegativeOnlyRoundingDown_AndFusedSumsRoundOnce()
    {
        Assert.Equal((0x0000u, 0u), Run((ref uint f) => HalfFloat.Add(0x3C00, 0xBC00, false, Rn, ref f)));
        Assert.Equal((0x8000u, 0u), Run((ref uint f) => HalfFloat.Add(0x3C00, 0xBC00, false, Rm, ref f)));
        Assert.Equal((0x8000u, 0u), Run((ref uint f) => HalfFloat.Add(0x8000, 0x8000, false, Rn, ref f)));
        Assert.Equal((0x8000u, 0u), Run((ref uint f) => HalfFloat.MulAdd(0x3C00, 0xBC00, 0x3C00, Rm, ref f)));

        // 2048 + 2^-24 * 2^-10: the product is far below half an ulp of 2048 (2): RNE keeps 2048,
        // round toward plus infinity gives the next half (2050), both inexact.
        Assert.Equal((0x6800u, HalfFloat.Ixc), Run((ref uint f) => HalfFloat.MulAdd(0x6800, 0x0001, 0x1400, Rn, ref f)));
        Assert.Equal((0x6801u, HalfFloat.Ixc), Run((ref uint f) => HalfFloat.MulAdd(0x6800, 0x0001, 0x1400, Rp, ref f)));
        Assert.Equal((0x67FFu, HalfFloat.Ixc), Run((ref uint f) => HalfFloat.MulAdd(0x6800, 0x8001, 0x1400, Rz, ref f)));
    }

    [Fact]
    public void Conversions_AndEstimates()
    {
        Assert.Equal((0x7C00u, HalfFloat.Ofc | HalfFloat.Ixc), Run((ref uint f) => HalfFloat.FromFixed(65535, false, 0, Rn, ref f)));
        Assert.Equal((0x7BFFu, HalfFloat.Ixc), Run((ref uint f) => HalfFloat.FromFixed(65535, false, 0, Rz, ref f)));
        Assert.Equal((0x7BFFu, HalfFloat.Ixc), Run((ref uint f) => HalfFloat.FromFixed(65519, false, 0, Rn, ref f)));
        Assert.Equal((0xFC00u, HalfFloat.Ofc | HalfFloat.Ixc), Run((ref uint f) => HalfFloat.FromFixed(0x8000_0000_0000_0000, true, 0, Rn, ref f)));
        Assert.Equal((0x3800u, 0u), Run((ref uint f) => HalfFloat.FromFixed(1, true, 1, Rn, ref f)));
        Assert.Equal((0x0001u, HalfFloat.Ufc | HalfFloat.Ixc), Run((ref uint f) => HalfFloat.FromFixed(3, false, 26, Rn, ref f)));
        Assert.Equal((0x3BFCu, 0u), Run((ref uint f) => HalfFloat.RecipEstimate(0x3C00, Rn, ref f)));
        Assert.Equal((0x3BFCu, 0u), Run((ref uint f) => HalfFloat.RSqrtEstimate(0x3C00, Rn, ref f)));
        Assert.Equal((0x7800u, 0u), Run((ref uint f) => HalfFloat.RecpX(0x03FF, Rn, ref f)));
        Assert.Equal((0x4000u, HalfFloat.Ixc), Run((ref uint f) => HalfFloat.RoundInt(0x3E00, 0, true, Rn, ref f)));
        Assert.Equal((0xC000u, 0u), Run((ref uint f) => HalfFloat.RoundInt(0xBE00, 4, false, Rn, ref f)));
        Assert.Equal((0x8000u, 0u), Run((ref uint f) => HalfFloat.RoundInt(0xB800, 1, false, Rn, ref f)));
    }
}

using System.Numerics;
using static SoftKvm.X86.Cpu.Instructions.X87Math;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// x87 arithmetic on the 80-bit format with 64-bit significands (128-bit integer intermediates):
/// add, subtract, multiply, divide and square root, rounded once to the FCW precision (24, 53 or 64
/// bits) with the FCW rounding control, in the extended exponent range. NaN operands and unsupported
/// encodings are handled by the caller.
/// </summary>
internal static class X87Extended
{
    private const int MinQuantum = 1 - Bias - 63; // exponent of the smallest denormal's unit

    /// <summary>Splits a finite nonzero value into m * 2^e with m normalized (bit 63 set).</summary>
    private static void Unpack(Float80 v, out int e, out ulong m)
    {
        int exp = Exponent(v);
        m = v.Significand;
        e = (exp == 0 ? 1 : exp) - Bias - 63;
        int lz = BitOperations.LeadingZeroCount(m);
        m <<= lz;
        e -= lz;
    }

    private static int BitLength(UInt128 x) => 128 - (int)UInt128.LeadingZeroCount(x);

    /// <summary>Computes <paramref name="op"/> on two non-NaN, supported values.</summary>
    public static Float80 Compute(FpOp op, Float80 a, Float80 b, int pc, int rc, int wrap, ref uint flags, out bool roundedUp)
    {
        roundedUp = false;
        bool az = IsZero(a), bz = IsZero(b), ai = IsInfinity(a), bi = IsInfinity(b);
        bool an = IsNegative(a), bn = IsNegative(b);
        if ((op != FpOp.Sqrt && IsDenormal(a)) || IsDenormal(b))
        {
            flags |= SseFloatMath.DE;
        }

        switch (op)
        {
            case FpOp.Add:
            case FpOp.Sub:
            {
                if (op == FpOp.Sub)
                {
                    bn = !bn;
                }

                if (ai || bi)
                {
                    if (ai && bi && an != bn)
                    {
                        flags |= SseFloatMath.IE;
                        flags &= ~SseFloatMath.DE;
                        return Indefinite;
                    }

                    return Make(ai ? an : bn, ExpMax, 1UL << 63);
                }

                if (az && bz)
                {
                    bool neg = an == bn ? an : rc == 1;
                    return Make(neg, 0, 0);
                }

                if (az || bz)
                {
                    Float80 x = az ? b : a;
                    bool neg = az ? bn : an;
                    Unpack(x, out int e, out ulong m);
                    return Round(neg, m, e, false, pc, rc, wrap, ref flags, out roundedUp);
                }

                Unpack(a, out int ea, out ulong ma);
                Unpack(b, out int eb, out ulong mb);
                bool na = an, nb = bn;
                if (eb > ea || (eb == ea && mb > ma))
                {
                    (ea, eb) = (eb, ea);
                    (ma, mb) = (mb, ma);
                    (na, nb) = (nb, na);
                }

                UInt128 big = (UInt128)ma << 62, small = (UInt128)mb << 62;
                int d = ea - eb;
                bool sticky = false;
                if (d > 0)
                {
                    if (d >= 127)
                    {
                        sticky = small != 0;
                        small = 0;
                    }
                    else
                    {
                        sticky = (small & (((UInt128)1 << d) - 1)) != 0;
                        small >>= d;
                    }
                }

                UInt128 s;
                if (na == nb)
                {
                    s = big + small;
                }
                else
                {
                    s = big - small;
                    if (sticky)
                    {
                        s -= 1; // the true difference lies between s and s + 1
                    }
                }

                if (s == 0 && !sticky)
                {
                    return Make(rc == 1, 0, 0);
                }

                return Round(na, s, ea - 62, sticky, pc, rc, wrap, ref flags, out roundedUp);
            }

            case FpOp.Mul:
            {
                bool neg = an != bn;
                if ((ai && bz) || (az && bi))
                {
                    flags |= SseFloatMath.IE;
                    flags &= ~SseFloatMath.DE;
                    return Indefinite;
                }

                if (ai || bi)
                {
                    return Make(neg, ExpMax, 1UL << 63);
                }

                if (az || bz)
                {
                    return Make(neg, 0, 0);
                }

                Unpack(a, out int ea, out ulong ma);
                Unpack(b, out int eb, out ulong mb);
                return Round(neg, (UInt128)ma * mb, ea + eb, false, pc, rc, wrap, ref flags, out roundedUp);
            }

            case FpOp.Div:
            {
                bool neg = an != bn;
                if ((az && bz) || (ai && bi))
                {
                    flags |= SseFloatMath.IE;
                    flags &= ~SseFloatMath.DE;
                    return Indefinite;
                }

                if (ai || bz)
                {
                    if (bz && !ai)
                    {
                        flags |= SseFloatMath.ZE;
                        flags &= ~SseFloatMath.DE;
                    }

                    return Make(neg, ExpMax, 1UL << 63);
                }

                if (az || bi)
                {
                    return Make(neg, 0, 0);
                }

                Unpack(a, out int ea, out ulong ma);
                Unpack(b, out int eb, out ulong mb);
                UInt128 num = (UInt128)ma << 64;
                UInt128 q = num / mb, r = num % mb;
                for (int k = 0; k < 2; k++)
                {
                    r <<= 1;
                    q <<= 1;
                    if (r >= mb)
                    {
                        r -= mb;
                        q |= 1;
                    }
                }

                return Round(neg, q, ea - eb - 66, r != 0, pc, rc, wrap, ref flags, out roundedUp);
            }

            default:
            {
                if (bz)
                {
                    return b;
                }

                if (bn)
                {
                    flags |= SseFloatMath.IE;
                    flags &= ~SseFloatMath.DE;
                    return Indefinite;
                }

                if (bi)
                {
                    return b;
                }

                Unpack(b, out int e, out ulong m);
                int s = ((e - 63) & 1) == 0 ? 63 : 64; // value = m * 2^e = (m << s) * 2^(e - s), e - s even
                UInt128 n = (UInt128)m << s;
                UInt128 root = Isqrt(n);
                UInt128 rem = n - root * root;
                bool guard = rem > root;
                UInt128 q = (root << 1) | (guard ? 1u : 0u);
                return Round(false, q, ((e - s) / 2) - 1, rem != 0, pc, rc, wrap, ref flags, out roundedUp);
            }
        }
    }

    private static UInt128 Isqrt(UInt128 n)
    {
        UInt128 x = (UInt128)Math.Sqrt((double)n);
        for (int k = 0; k < 4; k++)
        {
            if (x == 0)
            {
                break;
            }

            x = (x + n / x) >> 1;
        }

        while (x * x > n)
        {
            x--;
        }

        while ((x + 1) <= ulong.MaxValue && (x + 1) * (x + 1) <= n)
        {
            x++;
        }

        return x;
    }

    /// <summary>
    /// Rounds the value (m + f) * 2^e, where f in [0, 1) is nonzero exactly when <paramref name="sticky"/>,
    /// to the FCW precision and rounding control, with the extended exponent range (denormals, overflow).
    /// Callers pass at least two bits below the target precision whenever <paramref name="sticky"/> is set.
    /// With <paramref name="wrap"/> bit 0 (overflow unmasked in FCW) or bit 1 (underflow unmasked)
    /// an out-of-range result is rounded with an unbounded exponent and delivered with its exponent biased by
    /// -/+ 24576 (SDM Vol. 1 8.5.3, 8.5.4); the caller reports the flag and #MF follows.
    /// </summary>
    public static Float80 Round(bool negative, UInt128 m, int e, bool sticky, int pc, int rc, int wrap, ref uint flags, out bool roundedUp)
    {
        roundedUp = false;
        int p = pc == 0 ? 24 : pc == 2 ? 53 : 64;
        int lead = e + BitLength(m) - 1;
        bool wrapUnder = (wrap & 2) != 0;
        int quantum = wrapUnder ? lead - p + 1 : Math.Max(lead - p + 1, MinQuantum);
        int drop = quantum - e;
        UInt128 q;
        bool inexact;
        if (drop <= 0)
        {
            q = m << -drop;
            inexact = sticky;
        }
        else
        {
            bool above, exactHalf;
            if (drop > 128)
            {
                q = 0;
                above = false;
                exactHalf = false;
            }
            else
            {
                UInt128 r = drop == 128 ? m : m & (((UInt128)1 << drop) - 1);
                UInt128 half = (UInt128)1 << (drop - 1);
                q = drop == 128 ? 0 : m >> drop;
                above = r > half || (r == half && sticky);
                exactHalf = r == half && !sticky;
                sticky |= r != 0;
            }

            inexact = sticky;
            bool up = inexact && rc switch
            {
                0 => above || (exactHalf && (q & 1) != 0),
                1 => negative,
                2 => !negative,
                _ => false,
            };
            if (up)
            {
                q++;
                roundedUp = true;
            }
        }

        if (inexact)
        {
            flags |= SseFloatMath.PE;
        }

        if (q == 0)
        {
            if (inexact || wrapUnder)
            {
                flags |= SseFloatMath.UE;
            }

            return Make(negative, 0, 0);
        }

        int k = BitLength(q);
        int biased = quantum + k - 1 + Bias;
        if ((wrap & 1) != 0 && biased >= ExpMax && biased - 24576 < ExpMax)
        {
            flags |= SseFloatMath.OE;
            return Make(negative, biased - 24576, (ulong)(k > 64 ? q >> (k - 64) : q << (64 - k)));
        }

        if (wrapUnder && biased < 1)
        {
            flags |= SseFloatMath.UE;
            if (biased + 24576 >= 1)
            {
                return Make(negative, biased + 24576, (ulong)(k > 64 ? q >> (k - 64) : q << (64 - k)));
            }

            // Out of range even with the bias: the masked response (denormal or zero).
            return Round(negative, m, e, sticky, pc, rc, wrap & 1, ref flags, out roundedUp);
        }

        if (biased >= ExpMax)
        {
            flags |= SseFloatMath.OE | SseFloatMath.PE;
            bool toInf = rc == 0 || (rc == 1 && negative) || (rc == 2 && !negative);
            roundedUp = toInf;
            ulong max = p == 64 ? ulong.MaxValue : ulong.MaxValue << (64 - p);
            return toInf ? Make(negative, ExpMax, 1UL << 63) : Make(negative, ExpMax - 1, max);
        }

        if (biased >= 1)
        {
            if (inexact && lead + Bias < 1)
            {
                flags |= SseFloatMath.UE; // tiny before rounding, rounded up to the smallest normal
            }

            return Make(negative, biased, (ulong)(k > 64 ? q >> (k - 64) : q << (64 - k)));
        }

        if (inexact || wrapUnder)
        {
            flags |= SseFloatMath.UE;
        }

        return Make(negative, 0, (ulong)(q << (quantum - MinQuantum)));
    }
}

using SoftKvm.Arm64.Cpu.Decoder;
using System.Numerics;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD two-register miscellaneous (vector and scalar): REV16/32/64, [SU]ADDLP,
/// [SU]ADALP, CLS, CLZ, CNT, NOT, RBIT, compares with zero, ABS, NEG, XTN, SQXTN, UQXTN, SQXTUN,
/// FCVTN, FCVTL, FRINT*, FCVT[NPMZA][SU], SCVTF, UCVTF, FABS, FNEG, FSQRT, FP compares with zero.
/// SUQADD, USQADD, SQABS, SQNEG, FCVTXN, URECPE, URSQRTE, FRECPE, FRSQRTE and FRECPX (scalar) too.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdTwoRegMisc)]
    private Flow AdvSimdTwoRegMisc(uint insn) => SimdTwoRegMisc(insn, false);

    [A64Handler(A64Op.SimdScalarTwoRegMisc)]
    private Flow AdvSimdScalarTwoRegMisc(uint insn) => SimdTwoRegMisc(insn, true);

    private Flow SimdTwoRegMisc(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (opcode >= 12 && opcode is not (18 or 19 or 20))
        {
            return SimdTwoRegMiscFp(scalar, q, u, size, opcode, rd, rn);
        }

        if (opcode is 18 or 20 or 19)
        {
            return SimdNarrow(scalar, q, u, size, opcode, rd, rn);
        }

        bool valid = scalar
            ? (opcode is >= 8 and <= 11 && size == 3 && !(opcode == 10 && u)) || opcode is 3 or 7
            : opcode switch
            {
                0 => size + (u ? 1 : 0) < 3,
                1 => !u && size == 0,
                2 or 6 => size != 3,
                4 => size != 3,
                5 => u ? size <= 1 : size == 0,
                8 or 9 or 11 or 3 or 7 => size != 3 || q,
                10 => !u && (size != 3 || q),
                _ => false,
            };
        if (!valid)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), vd = GetV(rd), res = default;
        int elements = scalar ? 1 : (q ? 16 : 8) >> size;
        ulong ones = Mask(size);
        switch (opcode)
        {
            case 0:
            case 1:
            {
                // REV64 / REV32 / REV16: reverse the elements inside each container.
                int container = opcode == 1 ? 1 : u ? 2 : 3;
                int perContainer = 1 << (container - size);
                for (int i = 0; i < elements; i++)
                {
                    int baseIndex = i - (i % perContainer);
                    res.Set(i, size, vn.Get(baseIndex + (perContainer - 1 - (i % perContainer)), size));
                }

                break;
            }

            case 2:
            case 6:
            {
                int outElements = elements / 2;
                for (int i = 0; i < outElements; i++)
                {
                    ulong sum = u ? vn.Get(2 * i, size) + vn.Get((2 * i) + 1, size)
                        : (ulong)(vn.GetSigned(2 * i, size) + vn.GetSigned((2 * i) + 1, size));
                    if (opcode == 6)
                    {
                        sum += vd.Get(i, size + 1);
                    }

                    res.Set(i, size + 1, sum & Mask(size + 1));
                }

                break;
            }

            case 4:
                for (int i = 0; i < elements; i++)
                {
                    ulong x = vn.Get(i, size);
                    int bits = 8 << size;
                    int count = u ? BitOperations.LeadingZeroCount(x) - (64 - bits)
                        : BitOperations.LeadingZeroCount((ulong)(vn.GetSigned(i, size) ^ (vn.GetSigned(i, size) >> 63)) ) - (64 - bits) - 1;
                    res.Set(i, size, (ulong)count);
                }

                break;
            case 5:
                if (!u)
                {
                    for (int i = 0; i < elements; i++)
                    {
                        res.Set(i, 0, (ulong)BitOperations.PopCount(vn.Get(i, 0)));
                    }
                }
                else if (size == 0)
                {
                    res = new Vec(~vn.Lo, ~vn.Hi);
                }
                else
                {
                    for (int i = 0; i < (q ? 16 : 8); i++)
                    {
                        uint b = (uint)vn.Get(i, 0);
                        b = ((b * 0x0802u & 0x22110u) | (b * 0x8020u & 0x88440u)) * 0x10101u >> 16;
                        res.Set(i, 0, b & 0xFF);
                    }
                }

                break;
            default:
                for (int i = 0; i < elements; i++)
                {
                    long x = vn.GetSigned(i, size);
                    ulong r = (opcode, u) switch
                    {
                        (8, false) => x > 0 ? ones : 0,
                        (8, true) => x >= 0 ? ones : 0,
                        (9, false) => x == 0 ? ones : 0,
                        (9, true) => x <= 0 ? ones : 0,
                        (10, _) => x < 0 ? ones : 0,
                        (3, false) => SaturateTo((Int128)vd.GetSigned(i, size) + vn.Get(i, size), size, true),
                        (3, true) => SaturateTo((Int128)vd.Get(i, size) + x, size, false),
                        (7, false) => SaturateTo(Int128.Abs((Int128)x), size, true),
                        (7, true) => SaturateTo(-(Int128)x, size, true),
                        (11, false) => (ulong)Int128.Abs((Int128)x),
                        _ => (ulong)(-x),
                    };
                    res.Set(i, size, r & ones);
                }

                break;
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }

    /// <summary>XTN, SQXTN, UQXTN, SQXTUN (the "2" forms write the upper half and keep the lower).</summary>
    private Flow SimdNarrow(bool scalar, bool q, bool u, int size, int opcode, int rd, int rn)
    {
        if (size == 3 || (scalar && opcode is 18 or 19 && !u) || (opcode == 19 && (!u || scalar)))
        {
            return Undefined();
        }

        if (opcode == 19)
        {
            // SHLL{2}: widen and shift left by the element size.
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            Vec src = GetV(rn), wide = default;
            int count = 8 >> size, half = q ? count : 0;
            for (int i = 0; i < count; i++)
            {
                wide.Set(i, size + 1, src.Get(half + i, size) << (8 << size));
            }

            SetV(rd, wide, true);
            return Flow.Next;
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), res = scalar ? default : GetV(rd);
        int elements = scalar ? 1 : 8 >> size;
        int part = q && !scalar ? elements : 0;
        if (!q || scalar)
        {
            res.Hi = 0;
        }

        for (int i = 0; i < elements; i++)
        {
            ulong x = vn.Get(i, size + 1);
            long sx = vn.GetSigned(i, size + 1);
            ulong r = (opcode, u) switch
            {
                (18, false) => x & Mask(size),
                (18, true) => SaturateTo(sx, size, false),
                (20, false) => SaturateTo(sx, size, true),
                _ => SaturateTo(x, size, false),
            };
            res.Set(part + i, size, r);
        }

        if (scalar)
        {
            SetV(rd, res, false);
        }
        else
        {
            SetVector(rd, res.Lo, q ? res.Hi : 0);
        }

        return Flow.Next;
    }

    private Flow SimdTwoRegMiscFp(bool scalar, bool q, bool u, int size, int opcode, int rd, int rn)
    {
        bool dbl = (size & 1) != 0, hiSize = (size & 2) != 0;
        int key = (u ? 64 : 0) | (hiSize ? 32 : 0) | opcode;
        if (!scalar && dbl && !q && key is not (22 or 23 or 86))
        {
            return Undefined();
        }

        bool vectorOnly = key is 22 or 23 or 24 or 25 or 56 or 57 or 88 or 89 or 121 or 47 or 111 or 127 or 60 or 124;
        bool valid = key switch
        {
            60 or 124 => !dbl,                                       // URECPE, URSQRTE (32-bit elements)
            61 or 125 => true,                                       // FRECPE, FRSQRTE
            63 => scalar,                                            // FRECPX
            86 => dbl,                                               // FCVTXN{2}

            44 or 45 or 46 or 108 or 109 => true,                    // FCMGT/FCMEQ/FCMLT #0, FCMGE/FCMLE #0
            47 or 111 or 127 => true,                                // FABS, FNEG, FSQRT
            22 or 23 => true,                                        // FCVTN, FCVTL
            24 or 25 or 56 or 57 or 88 or 89 or 121 => true,         // FRINTN/M/P/Z, FRINTA/X/I
            26 or 27 or 28 or 58 or 59 or 90 or 91 or 92 or 122 or 123 => true, // FCVT[NMAPZ][SU]
            29 or 93 => true,                                        // SCVTF, UCVTF
            _ => false,
        };
        if (!valid || (scalar && vectorOnly))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), res = default;
        if (key == 86)
        {
            // FCVTXN{2} (round to odd): the scalar form writes Sd, the vector form a half of Vd.
            if (scalar)
            {
                res.Set(0, 2, FpConvertRoundOdd(vn.Get(0, 3)));
                SetV(rd, res, false);
                return Flow.Next;
            }

            res = GetV(rd);
            for (int i = 0; i < 2; i++)
            {
                res.Set((q ? 2 : 0) + i, 2, FpConvertRoundOdd(vn.Get(i, 3)));
            }

            SetVector(rd, res.Lo, q ? res.Hi : 0);
            return Flow.Next;
        }

        if (key is 22 or 23)
        {
            if (key == 22)
            {
                // FCVTN{2}: narrow to the lower or upper half.
                res = GetV(rd);
                int n = dbl ? 2 : 4;
                int part = q ? n : 0;
                for (int i = 0; i < n; i++)
                {
                    res.Set(part + i, dbl ? 2 : 1, FpConvert(vn.Get(i, dbl ? 3 : 2), dbl ? 2 : 1, dbl ? 1 : 0));
                }

                SetVector(rd, res.Lo, q ? res.Hi : 0);
            }
            else
            {
                int n = dbl ? 2 : 4;
                int part = q ? n : 0;
                for (int i = 0; i < n; i++)
                {
                    res.Set(i, dbl ? 3 : 2, FpConvert(vn.Get(part + i, dbl ? 2 : 1), dbl ? 1 : 0, dbl ? 2 : 1));
                }

                SetV(rd, res, true);
            }

            return Flow.Next;
        }

        int esize = dbl ? 3 : 2;
        int elements = scalar ? 1 : (q ? 16 : 8) >> esize;
        ulong ones = Mask(esize);
        for (int i = 0; i < elements; i++)
        {
            ulong x = vn.Get(i, esize);
            ulong r = key switch
            {
                108 => FpCompareQuiet(x, 0, dbl, 1) ? ones : 0,
                109 => FpCompareQuiet(0, x, dbl, 1) ? ones : 0,
                44 => FpCompareQuiet(x, 0, dbl, 2) ? ones : 0,
                45 => FpCompareQuiet(x, 0, dbl, 0) ? ones : 0,
                46 => FpCompareQuiet(0, x, dbl, 2) ? ones : 0,
                47 => x & ~ZeroOf(true, dbl),
                111 => x ^ ZeroOf(true, dbl),
                127 => FpSqrt(x, dbl),
                24 => FpRoundInt(x, dbl, 0, false),
                25 => FpRoundInt(x, dbl, 2, false),
                56 => FpRoundInt(x, dbl, 1, false),
                57 => FpRoundInt(x, dbl, 3, false),
                88 => FpRoundInt(x, dbl, 4, false),
                89 => FpRoundInt(x, dbl, FpRMode, true),
                121 => FpRoundInt(x, dbl, FpRMode, false),
                26 or 90 => FpToFixed(x, dbl, 0, u, 8 << esize, 0),
                27 or 91 => FpToFixed(x, dbl, 0, u, 8 << esize, 2),
                28 or 92 => FpToFixed(x, dbl, 0, u, 8 << esize, 4),
                58 or 122 => FpToFixed(x, dbl, 0, u, 8 << esize, 1),
                59 or 123 => FpToFixed(x, dbl, 0, u, 8 << esize, 3),
                60 => UnsignedRecipEstimate(x),
                124 => UnsignedRSqrtEstimate(x),
                61 => FpRecipEstimate(x, dbl),
                125 => FpRSqrtEstimate(x, dbl),
                63 => FpRecpX(x, dbl),
                29 => FixedToFp(dbl ? x : (ulong)(long)(int)x, true, 0, dbl),
                93 => FixedToFp(x, false, 0, dbl),
                _ => 0,
            };
            res.Set(i, esize, r);
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }
}

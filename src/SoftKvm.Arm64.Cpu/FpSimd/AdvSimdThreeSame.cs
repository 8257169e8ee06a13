using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD three same (vector and scalar): integer add/sub/mul/mla/mls, halving and
/// saturating add/sub, SQDMULH/SQRDMULH, saturating and rounding register shifts, compares, max/min, absolute difference, register shifts, pairwise ADDP/max/min,
/// logical (AND/BIC/ORR/ORN/EOR/BSL/BIT/BIF) and the vector FP arithmetic and compares.
/// FMULX, FRECPS and FRSQRTS included.
/// </summary>
public sealed partial class Arm64Cpu
{
    private Vec GetV(int n) => new(State.V[2 * n], State.V[(2 * n) + 1]);

    private void SetV(int n, Vec v, bool q) => SetVector(n, v.Lo, q ? v.Hi : 0);

    private static ulong Mask(int sizeLog2) => sizeLog2 == 3 ? ulong.MaxValue : (1UL << (8 << sizeLog2)) - 1;

    private static long SignedOf(ulong x, int sizeLog2)
    {
        int shift = 64 - (8 << sizeLog2);
        return (long)(x << shift) >> shift;
    }

    [A64Handler(A64Op.SimdThreeSame)]
    private Flow AdvSimdThreeSame(uint insn) => SimdThreeSame(insn, false);

    [A64Handler(A64Op.SimdScalarThreeSame)]
    private Flow AdvSimdScalarThreeSame(uint insn) => SimdThreeSame(insn, true);

    private Flow SimdThreeSame(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 11) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (opcode >= 24)
        {
            return SimdThreeSameFp(insn, scalar, q, u, size, opcode, rd, rn, rm);
        }

        if (opcode == 3)
        {
            if (scalar)
            {
                return Undefined();
            }

            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            Vec n = GetV(rn), m = GetV(rm), d = GetV(rd);
            Vec r = default;
            r.Lo = Logical(u, size, n.Lo, m.Lo, d.Lo);
            r.Hi = Logical(u, size, n.Hi, m.Hi, d.Hi);
            SetV(rd, r, q);
            return Flow.Next;
        }

        bool ok = scalar
            ? opcode switch
            {
                1 or 5 or 9 or 11 => true,
                22 => size is 1 or 2,
                6 or 7 or 8 or 10 or 16 or 17 => size == 3,
                _ => false,
            }
            : opcode switch
            {
                18 or 19 => size != 3 && (opcode != 19 || !u || size == 0),
                20 or 21 => size != 3,
                23 => !u && (size != 3 || q),
                0 or 2 or 4 or 12 or 13 or 14 or 15 => size != 3,
                1 or 5 or 6 or 7 or 8 or 9 or 10 or 11 or 16 or 17 => size != 3 || q,
                22 => size is 1 or 2,
                _ => false,
            };
        if (!ok)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
        int elements = scalar ? 1 : (q ? 16 : 8) >> size;
        if (opcode is 20 or 21 or 23)
        {
            // Pairwise: the concatenation m:n, adjacent pairs.
            for (int i = 0; i < elements; i++)
            {
                Vec src = i < elements / 2 ? vn : vm;
                int j = (2 * i) % elements;
                ulong a = src.Get(j, size), b = src.Get(j + 1, size);
                ulong r = opcode switch
                {
                    23 => a + b,
                    20 => u ? Math.Max(a, b) : (ulong)Math.Max(SignedOf(a, size), SignedOf(b, size)),
                    _ => u ? Math.Min(a, b) : (ulong)Math.Min(SignedOf(a, size), SignedOf(b, size)),
                };
                res.Set(i, size, r & Mask(size));
            }

            SetV(rd, res, q);
            return Flow.Next;
        }

        for (int i = 0; i < elements; i++)
        {
            res.Set(i, size, IntegerThreeSame(opcode, u, size, vn.Get(i, size), vm.Get(i, size), vd.Get(i, size)) & Mask(size));
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }

    private static ulong Logical(bool u, int size, ulong n, ulong m, ulong d) => (u, size) switch
    {
        (false, 0) => n & m,
        (false, 1) => n & ~m,
        (false, 2) => n | m,
        (false, _) => n | ~m,
        (true, 0) => n ^ m,
        (true, 1) => (d & n) | (~d & m),
        (true, 2) => (d & ~m) | (n & m),
        _ => (d & m) | (n & ~m),
    };

    private ulong IntegerThreeSame(int opcode, bool u, int size, ulong a, ulong b, ulong d)
    {
        int bits = 8 << size;
        long sa = SignedOf(a, size), sb = SignedOf(b, size);
        ulong ones = Mask(size);
        switch (opcode)
        {
            case 0:
                return u ? (ulong)(((UInt128)a + b) >> 1) : (ulong)(((Int128)sa + sb) >> 1);
            case 2:
                return u ? (ulong)(((UInt128)a + b + 1) >> 1) : (ulong)(((Int128)sa + sb + 1) >> 1);
            case 4:
                return u ? (ulong)(((Int128)a - b) >> 1) : (ulong)(((Int128)sa - sb) >> 1);
            case 1:
            case 5:
            {
                Int128 r = u ? (opcode == 1 ? (Int128)a + b : (Int128)a - b) : (opcode == 1 ? (Int128)sa + sb : (Int128)sa - sb);
                return SaturateTo(r, size, !u);
            }

            case 6:
                return (u ? a > b : sa > sb) ? ones : 0;
            case 7:
                return (u ? a >= b : sa >= sb) ? ones : 0;
            case 8:
            case 10:
            {
                int shift = (sbyte)(byte)b;
                bool round = opcode == 10;
                return ShiftByRegister(a, sa, shift, bits, u, round);
            }

            case 9:
            {
                int shift = (sbyte)(byte)b;
                return SaturatingShiftLeftRegister(a, sa, shift, size, u);
            }

            case 11:
            {
                int shift = (sbyte)(byte)b;
                return shift < 0 ? ShiftByRegister(a, sa, shift, bits, u, true) & ones : SaturatingShiftLeftRegister(a, sa, shift, size, u);
            }

            case 22:
            {
                Int128 product = 2 * (Int128)sa * sb;
                if (u)
                {
                    product += (Int128)1 << (bits - 1);
                }

                return SaturateTo(product >> bits, size, true);
            }

            case 12:
                return u ? Math.Max(a, b) : (ulong)Math.Max(sa, sb);
            case 13:
                return u ? Math.Min(a, b) : (ulong)Math.Min(sa, sb);
            case 14:
                return u ? (a > b ? a - b : b - a) : (ulong)Int128.Abs((Int128)sa - sb);
            case 15:
                return d + (u ? (a > b ? a - b : b - a) : (ulong)Int128.Abs((Int128)sa - sb));
            case 16:
                return u ? a - b : a + b;
            case 17:
                return u ? (a == b ? ones : 0) : ((a & b) != 0 ? ones : 0);
            case 18:
                return u ? d - (a * b) : d + (a * b);
            default:
                return u ? PolynomialMultiply8(a, b) : a * b;
        }
    }

    private static ulong PolynomialMultiply8(ulong a, ulong b)
    {
        ulong r = 0;
        for (int i = 0; i < 8; i++)
        {
            if ((b & (1UL << i)) != 0)
            {
                r ^= a << i;
            }
        }

        return r & 0xFF;
    }

    /// <summary>SSHL/USHL/SRSHL/URSHL: shift by a signed byte; negative shifts right (rounding when asked).</summary>
    private static ulong ShiftByRegister(ulong a, long sa, int shift, int bits, bool unsigned, bool round)
    {
        if (shift >= 0)
        {
            return shift >= bits ? 0 : a << shift;
        }

        int right = -shift;
        Int128 value = unsigned ? a : sa;
        if (round)
        {
            if (right > bits + 1)
            {
                return 0;
            }

            value += (Int128)1 << (right - 1);
            return (ulong)(value >> right);
        }

        if (right >= bits)
        {
            return unsigned || sa >= 0 ? 0 : ulong.MaxValue;
        }

        return (ulong)(value >> right);
    }

    private ulong SaturatingShiftLeftRegister(ulong a, long sa, int shift, int size, bool unsigned)
    {
        int bits = 8 << size;
        if (shift < 0)
        {
            return ShiftByRegister(a, sa, shift, bits, unsigned, false);
        }

        Int128 v = unsigned ? a : sa;
        if (v == 0)
        {
            return 0;
        }

        if (shift >= bits)
        {
            return SaturateTo(v > 0 ? Int128.MaxValue : Int128.MinValue, size, !unsigned);
        }

        return SaturateTo(v << shift, size, !unsigned);
    }

    /// <summary>SatQ: clamps to the signed or unsigned range of the element size, setting FPSR.QC.</summary>
    private ulong SaturateTo(Int128 r, int size, bool signed)
    {
        int bits = 8 << size;
        Int128 max = signed ? ((Int128)1 << (bits - 1)) - 1 : ((Int128)1 << bits) - 1;
        Int128 min = signed ? -((Int128)1 << (bits - 1)) : 0;
        if (r > max)
        {
            State.Fpsr |= FpsrQc;
            r = max;
        }
        else if (r < min)
        {
            State.Fpsr |= FpsrQc;
            r = min;
        }

        return (ulong)r & Mask(size);
    }

    private Flow SimdThreeSameFp(uint insn, bool scalar, bool q, bool u, int size, int opcode, int rd, int rn, int rm)
    {
        bool dbl = (size & 1) != 0, a = (size & 2) != 0;
        int key = (u ? 32 : 0) | (a ? 16 : 0) | (opcode - 24);
        bool pairwise = key is 32 or 34 or 38 or 48 or 54;
        bool valid = key switch
        {
            0 or 1 or 2 or 3 or 4 or 6 or 7 or 16 or 17 or 18 or 22 or 23 or 32 or 34 or 35 or 36 or 37 or 38 or 39 or 48 or 50 or 52 or 53 or 54 => true,
            _ => false,
        };
        if (scalar)
        {
            valid = key is 3 or 4 or 7 or 23 or 36 or 37 or 50 or 52 or 53;
        }

        if (!valid || (dbl && !q && !scalar))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int esize = dbl ? 3 : 2;
        int elements = scalar ? 1 : (q ? 16 : 8) >> esize;
        Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
        for (int i = 0; i < elements; i++)
        {
            ulong x, y;
            if (pairwise)
            {
                Vec src = i < elements / 2 ? vn : vm;
                int j = (2 * i) % elements;
                x = src.Get(j, esize);
                y = src.Get(j + 1, esize);
            }
            else
            {
                x = vn.Get(i, esize);
                y = vm.Get(i, esize);
            }

            ulong ones = Mask(esize);
            ulong r = key switch
            {
                0 or 32 => FpBinary(FpBin.MaxNm, x, y, dbl),
                16 or 48 => FpBinary(FpBin.MinNm, x, y, dbl),
                1 => FpMulAdd(vd.Get(i, esize), x, y, dbl),
                17 => FpMulAdd(vd.Get(i, esize), FpNeg(x, dbl), y, dbl),
                2 or 34 => FpBinary(FpBin.Add, x, y, dbl),
                18 => FpBinary(FpBin.Sub, x, y, dbl),
                50 => FpBinary(FpBin.Abd, x, y, dbl),
                35 => FpBinary(FpBin.Mul, x, y, dbl),
                3 => FpMulX(x, y, dbl),
                7 => FpStepFused(x, y, dbl, false),
                23 => FpStepFused(x, y, dbl, true),
                39 => FpBinary(FpBin.Div, x, y, dbl),
                6 or 38 => FpBinary(FpBin.Max, x, y, dbl),
                22 or 54 => FpBinary(FpBin.Min, x, y, dbl),
                4 => FpCompareQuiet(x, y, dbl, 0) ? ones : 0,
                36 => FpCompareQuiet(x, y, dbl, 1) ? ones : 0,
                52 => FpCompareQuiet(x, y, dbl, 2) ? ones : 0,
                37 => FpCompareQuiet(x, y, dbl, 3) ? ones : 0,
                _ => FpCompareQuiet(x, y, dbl, 4) ? ones : 0,
            };
            res.Set(i, esize, r);
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }
}

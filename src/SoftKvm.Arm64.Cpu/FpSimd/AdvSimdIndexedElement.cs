using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD vector and scalar x indexed element: MUL, MLA, MLS, [SU]MULL, [SU]MLAL,
/// [SU]MLSL (and "2" forms), FMUL, FMLA, FMLS, FMULX, and the saturating doubling SQDMULH, SQRDMULH,
/// SQDMULL{2}, SQDMLAL{2}, SQDMLSL{2} (vector and scalar). The ARMv8.1+ forms (SQRDMLAH, dot product,
/// FCMLA) and the ARMv8.2 half-precision forms are UNDEFINED here.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdIndexedElement)]
    private Flow AdvSimdIndexedElement(uint insn) => SimdIndexedElement(insn, false);

    [A64Handler(A64Op.SimdScalarIndexedElement)]
    private Flow AdvSimdScalarIndexedElement(uint insn) => SimdIndexedElement(insn, true);

    private Flow SimdIndexedElement(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 15;
        int l = (int)(insn >> 21) & 1, m = (int)(insn >> 20) & 1, h = (int)(insn >> 11) & 1;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rmLow = (int)(insn >> 16) & 15;
        bool fp = opcode == 9 || (!u && opcode is 1 or 5);
        if (fp)
        {
            bool dbl = (size & 1) != 0;
            if ((size & 2) == 0 || (dbl && (l == 1 || (!q && !scalar))))
            {
                return Undefined();
            }

            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            int esize = dbl ? 3 : 2;
            int index = dbl ? h : (h << 1) | l;
            ulong element = GetV((m << 4) | rmLow).Get(index, esize);
            Vec vn = GetV(rn), vd = GetV(rd), res = default;
            int elements = scalar ? 1 : (q ? 16 : 8) >> esize;
            for (int i = 0; i < elements; i++)
            {
                ulong x = vn.Get(i, esize);
                ulong r = opcode switch
                {
                    1 => FpMulAdd(vd.Get(i, esize), x, element, dbl),
                    5 => FpMulAdd(vd.Get(i, esize), FpNeg(x, dbl), element, dbl),
                    _ => u ? FpMulX(x, element, dbl) : FpBinary(FpBin.Mul, x, element, dbl),
                };
                res.Set(i, esize, r);
            }

            SetV(rd, res, q && !scalar);
            return Flow.Next;
        }

        bool saturating = !u && opcode is 3 or 7 or 11 or 12 or 13;
        bool valid = (size is 1 or 2) && (saturating || (!scalar && (u
            ? opcode is 0 or 2 or 4 or 6 or 10
            : opcode is 2 or 6 or 8 or 10)));
        if (!valid)
        {
            return Undefined();
        }

        if (saturating)
        {
            return SimdIndexedSaturatingDoubling(scalar, q, size, opcode, rd, rn, (int)(insn >> 16) & 31, h, l, m);
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int idx = size == 1 ? (h << 2) | (l << 1) | m : (h << 1) | l;
        int rm = size == 1 ? rmLow : (m << 4) | rmLow;
        Vec a = GetV(rn), acc = GetV(rd), result = default;
        ulong ue = GetV(rm).Get(idx, size);
        long se = GetV(rm).GetSigned(idx, size);
        bool longForm = opcode is 2 or 6 or 10;
        if (!longForm)
        {
            int n = (q ? 16 : 8) >> size;
            for (int i = 0; i < n; i++)
            {
                ulong p = a.Get(i, size) * ue;
                ulong r = opcode == 8 ? p : opcode == 0 ? acc.Get(i, size) + p : acc.Get(i, size) - p;
                result.Set(i, size, r & Mask(size));
            }

            SetV(rd, result, q);
            return Flow.Next;
        }

        int count = 8 >> size, part = q ? count : 0;
        for (int i = 0; i < count; i++)
        {
            ulong p = u ? a.Get(part + i, size) * ue : (ulong)(a.GetSigned(part + i, size) * se);
            ulong r = opcode switch
            {
                2 => acc.Get(i, size + 1) + p,
                6 => acc.Get(i, size + 1) - p,
                _ => p,
            };
            result.Set(i, size + 1, r & Mask(size + 1));
        }

        SetV(rd, result, true);
        return Flow.Next;
    }

    /// <summary>SQDMLAL (3), SQDMLSL (7), SQDMULL (11), SQDMULH (12), SQRDMULH (13) by element.</summary>
    private Flow SimdIndexedSaturatingDoubling(bool scalar, bool q, int size, int opcode, int rd, int rn, int rmField, int h, int l, int m)
    {
        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int idx = size == 1 ? (h << 2) | (l << 1) | m : (h << 1) | l;
        int rm = size == 1 ? rmField & 15 : rmField;
        long e = GetV(rm).GetSigned(idx, size);
        Vec vn = GetV(rn), vd = GetV(rd), res = default;
        int bits = 8 << size;
        if (opcode is 12 or 13)
        {
            int n = scalar ? 1 : (q ? 16 : 8) >> size;
            for (int i = 0; i < n; i++)
            {
                Int128 product = 2 * (Int128)vn.GetSigned(i, size) * e;
                if (opcode == 13)
                {
                    product += (Int128)1 << (bits - 1);
                }

                res.Set(i, size, SaturateTo(product >> bits, size, true));
            }

            SetV(rd, res, q && !scalar);
            return Flow.Next;
        }

        int wide = size + 1;
        int count = scalar ? 1 : 8 >> size, part = q && !scalar ? count : 0;
        for (int i = 0; i < count; i++)
        {
            long product = SignedOf(SaturateTo(2 * (Int128)vn.GetSigned(part + i, size) * e, wide, true), wide);
            ulong r = opcode switch
            {
                3 => SaturateTo((Int128)SignedOf(vd.Get(i, wide), wide) + product, wide, true),
                7 => SaturateTo((Int128)SignedOf(vd.Get(i, wide), wide) - product, wide, true),
                _ => (ulong)product & Mask(wide),
            };
            res.Set(i, wide, r);
        }

        SetV(rd, res, !scalar);
        return Flow.Next;
    }
}

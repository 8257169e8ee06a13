using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD three same (extra) and the matching by-element forms: SQRDMLAH/SQRDMLSH
/// (FEAT_RDM; vector, scalar, by element), SDOT/UDOT (FEAT_DotProd; vector, by element) and FCMLA/FCADD
/// (FEAT_FCMA; single and double precision, vector, FCMLA by element too; the half-precision forms, with
/// FEAT_FP16, in <c>AdvSimdHalfComplex.cs</c>). Each is UNDEFINED on a model without its feature.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdThreeSameExtra)]
    private Flow AdvSimdThreeSameExtra(uint insn) => SimdThreeSameExtra(insn, false);

    [A64Handler(A64Op.SimdScalarThreeSameExtra)]
    private Flow AdvSimdScalarThreeSameExtra(uint insn) => SimdThreeSameExtra(insn, true);

    private Flow SimdThreeSameExtra(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 11) & 15;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (u && opcode is 0 or 1 && size is 1 or 2 && Has(CpuFeatures.Rdm))
        {
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
            int n = scalar ? 1 : (q ? 16 : 8) >> size;
            for (int i = 0; i < n; i++)
            {
                res.Set(i, size, RoundingDoublingMulAdd(vd.GetSigned(i, size), vn.GetSigned(i, size), vm.GetSigned(i, size), size, opcode == 1));
            }

            SetV(rd, res, q && !scalar);
            return Flow.Next;
        }

        if (scalar)
        {
            return Undefined();
        }

        if (opcode == 2 && size == 2 && Has(CpuFeatures.DotProd))
        {
            return DotProduct(q, u, rd, rn, GetV(rm));
        }

        bool complex = u && ((opcode & 0xC) == 8 || (opcode & 0xD) == 0xC);
        if (complex && size == 1 && Has(CpuFeatures.Fcma))
        {
            return HalfComplexVector(q, opcode, rd, rn, rm);
        }

        if (complex && (size == 2 || (size == 3 && q)) && Has(CpuFeatures.Fcma))
        {
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            bool dbl = size == 3;
            Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
            int pairs = (q ? 16 : 8) >> (size + 1);
            for (int e = 0; e < pairs; e++)
            {
                ulong n0 = vn.Get(2 * e, size), n1 = vn.Get((2 * e) + 1, size);
                ulong m0 = vm.Get(2 * e, size), m1 = vm.Get((2 * e) + 1, size);
                if ((opcode & 0xC) == 8)
                {
                    (ulong r0, ulong r1) = ComplexMulAdd(n0, n1, m0, m1, vd.Get(2 * e, size), vd.Get((2 * e) + 1, size), opcode & 3, dbl);
                    res.Set(2 * e, size, r0);
                    res.Set((2 * e) + 1, size, r1);
                }
                else
                {
                    // FCADD: rotate Vm by 90 (opcode bit 1 = 0) or 270 degrees and add.
                    bool rot270 = (opcode & 2) != 0;
                    res.Set(2 * e, size, FpBinary(FpBin.Add, n0, rot270 ? m1 : FpNeg(m1, dbl), dbl));
                    res.Set((2 * e) + 1, size, FpBinary(FpBin.Add, n1, rot270 ? FpNeg(m0, dbl) : m0, dbl));
                }
            }

            SetV(rd, res, q);
            return Flow.Next;
        }

        return Undefined();
    }

    /// <summary>
    /// The by-element forms of the extensions (SQRDMLAH/SQRDMLSH, SDOT/UDOT, FCMLA), or false when
    /// <paramref name="insn"/> is none of them (the caller decodes it).
    /// </summary>
    private bool TryIndexedElementExtension(uint insn, bool scalar, out Flow flow)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 15;
        int l = (int)(insn >> 21) & 1, m = (int)(insn >> 20) & 1, h = (int)(insn >> 11) & 1;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rmLow = (int)(insn >> 16) & 15;
        flow = Flow.Next;
        if (u && opcode is 13 or 15)
        {
            if (size is not (1 or 2) || !Has(CpuFeatures.Rdm))
            {
                flow = Undefined();
                return true;
            }

            if (!FpEnabled())
            {
                flow = Flow.Exception;
                return true;
            }

            int idx = size == 1 ? (h << 2) | (l << 1) | m : (h << 1) | l;
            int rm = size == 1 ? rmLow : (m << 4) | rmLow;
            long e = GetV(rm).GetSigned(idx, size);
            Vec vn = GetV(rn), vd = GetV(rd), res = default;
            int n = scalar ? 1 : (q ? 16 : 8) >> size;
            for (int i = 0; i < n; i++)
            {
                res.Set(i, size, RoundingDoublingMulAdd(vd.GetSigned(i, size), vn.GetSigned(i, size), e, size, opcode == 15));
            }

            SetV(rd, res, q && !scalar);
            return true;
        }

        if (opcode == 14)
        {
            if (scalar || size != 2 || !Has(CpuFeatures.DotProd))
            {
                flow = Undefined();
                return true;
            }

            Vec vm = GetV((m << 4) | rmLow);
            ulong word = vm.Get((h << 1) | l, 2);
            flow = DotProduct(q, u, rd, rn, new Vec(word | (word << 32), word | (word << 32)));
            return true;
        }

        if (u && (opcode & 9) == 1)
        {
            if (!scalar && size == 1 && Has(CpuFeatures.Fcma))
            {
                flow = HalfComplexByElement(q, (opcode >> 1) & 3, (h << 1) | l, rd, rn, (m << 4) | rmLow);
                return true;
            }

            // FCMLA (by element), single precision: Q = 1, L = 0, the pair at index H of Vm.
            if (scalar || size != 2 || !q || l != 0 || !Has(CpuFeatures.Fcma))
            {
                flow = Undefined();
                return true;
            }

            if (!FpEnabled())
            {
                flow = Flow.Exception;
                return true;
            }

            Vec vm = GetV((m << 4) | rmLow), vn = GetV(rn), vd = GetV(rd), res = default;
            ulong m0 = vm.Get(2 * h, 2), m1 = vm.Get((2 * h) + 1, 2);
            for (int e = 0; e < 2; e++)
            {
                (ulong r0, ulong r1) = ComplexMulAdd(vn.Get(2 * e, 2), vn.Get((2 * e) + 1, 2), m0, m1, vd.Get(2 * e, 2), vd.Get((2 * e) + 1, 2), (opcode >> 1) & 3, false);
                res.Set(2 * e, 2, r0);
                res.Set((2 * e) + 1, 2, r1);
            }

            SetV(rd, res, true);
            return true;
        }

        return false;
    }

    /// <summary>SQRDMLAH/SQRDMLSH of one element: saturate((acc &lt;&lt; esize ± 2·a·b + round) &gt;&gt; esize), QC on saturation.</summary>
    private ulong RoundingDoublingMulAdd(long acc, long a, long b, int size, bool subtract)
    {
        int bits = 8 << size;
        Int128 product = 2 * (Int128)a * b;
        Int128 r = ((Int128)acc << bits) + (subtract ? -product : product) + ((Int128)1 << (bits - 1));
        return SaturateTo(r >> bits, size, true);
    }

    /// <summary>SDOT/UDOT: each 32-bit lane of Vd plus the four byte products of Vn and <paramref name="vm"/> in that lane.</summary>
    private Flow DotProduct(bool q, bool unsigned, int rd, int rn, Vec vm)
    {
        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), vd = GetV(rd), res = default;
        int lanes = q ? 4 : 2;
        for (int i = 0; i < lanes; i++)
        {
            long sum = 0;
            for (int k = 0; k < 4; k++)
            {
                int b = (4 * i) + k;
                sum += unsigned ? (long)(vn.Get(b, 0) * vm.Get(b, 0)) : vn.GetSigned(b, 0) * vm.GetSigned(b, 0);
            }

            res.Set(i, 2, (vd.Get(i, 2) + (ulong)sum) & 0xFFFF_FFFF);
        }

        SetV(rd, res, q);
        return Flow.Next;
    }

    /// <summary>FCMLA of one complex pair (n0 + i·n1, m0 + i·m1) into (d0, d1), rotation 0, 90, 180 or 270 degrees (Arm ARM FCMLA).</summary>
    private (ulong, ulong) ComplexMulAdd(ulong n0, ulong n1, ulong m0, ulong m1, ulong d0, ulong d1, int rot, bool dbl)
    {
        (ulong e1, ulong e2, ulong e3, ulong e4) = rot switch
        {
            0 => (m0, n0, m1, n0),
            1 => (FpNeg(m1, dbl), n1, m0, n1),
            2 => (FpNeg(m0, dbl), n0, FpNeg(m1, dbl), n0),
            _ => (m1, n1, FpNeg(m0, dbl), n1),
        };
        return (FpMulAdd(d0, e2, e1, dbl), FpMulAdd(d1, e4, e3, dbl));
    }
}

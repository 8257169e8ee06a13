using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD three different: [SU]ADDL, [SU]ADDW, [SU]SUBL, [SU]SUBW, ADDHN, RADDHN,
/// SUBHN, RSUBHN, [SU]ABAL, [SU]ABDL, [SU]MLAL, [SU]MLSL, [SU]MULL, PMULL (8B), and their "2" forms.
/// and the saturating doubling SQDMLAL, SQDMLSL, SQDMULL (vector, "2" and scalar forms).
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdThreeDifferent)]
    private Flow AdvSimdThreeDifferent(uint insn) => SimdThreeDifferent(insn, false);

    [A64Handler(A64Op.SimdScalarThreeDifferent)]
    private Flow AdvSimdScalarThreeDifferent(uint insn) => SimdThreeDifferent(insn, true);

    private Flow SimdThreeDifferent(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0 && !scalar, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 15;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        bool valid = scalar ? !u && size is 1 or 2 && opcode is 9 or 11 or 13 : size != 3 && opcode switch
        {
            0 or 1 or 2 or 3 or 4 or 5 or 6 or 7 or 8 or 10 or 12 => true,
            9 or 11 or 13 => !u && size is 1 or 2,
            14 => !u && size == 0,
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

        Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
        int n = scalar ? 1 : 8 >> size, part = q ? n : 0;
        int wide = size + 1;
        if (opcode is 4 or 6)
        {
            res = vd;
            if (!q)
            {
                res.Hi = 0;
            }

            for (int i = 0; i < n; i++)
            {
                UInt128 a = vn.Get(i, wide), b = vm.Get(i, wide);
                UInt128 r = opcode == 4 ? a + b : a - b;
                if (u)
                {
                    r += (UInt128)1 << ((8 << size) - 1);
                }

                res.Set(part + i, size, (ulong)(r >> (8 << size)) & Mask(size));
            }

            SetVector(rd, res.Lo, q ? res.Hi : 0);
            return Flow.Next;
        }

        for (int i = 0; i < n; i++)
        {
            long sa = opcode is 1 or 3 ? vn.GetSigned(i, wide) : vn.GetSigned(part + i, size);
            ulong ua = opcode is 1 or 3 ? vn.Get(i, wide) : vn.Get(part + i, size);
            long sb = vm.GetSigned(part + i, size);
            ulong ub = vm.Get(part + i, size);
            ulong a = u ? ua : (ulong)sa, b = u ? ub : (ulong)sb;
            ulong acc = vd.Get(i, wide);
            ulong absDiff = u ? (ua > ub ? ua - ub : ub - ua) : (ulong)Math.Abs(sa - sb);
            ulong r = opcode switch
            {
                0 or 1 => a + b,
                2 or 3 => a - b,
                5 => acc + absDiff,
                7 => absDiff,
                8 => acc + (a * b),
                10 => acc - (a * b),
                12 => a * b,
                9 => SaturateTo((Int128)SignedOf(acc, wide) + SignedOf(SaturateTo(2 * (Int128)sa * sb, wide, true), wide), wide, true),
                11 => SaturateTo((Int128)SignedOf(acc, wide) - SignedOf(SaturateTo(2 * (Int128)sa * sb, wide, true), wide), wide, true),
                13 => SaturateTo(2 * (Int128)sa * sb, wide, true),
                _ => PolynomialMultiplyWide(ua, ub),
            };
            res.Set(i, wide, r & Mask(wide));
        }

        SetV(rd, res, true);
        return Flow.Next;
    }

    private static ulong PolynomialMultiplyWide(ulong a, ulong b)
    {
        ulong r = 0;
        for (int i = 0; i < 8; i++)
        {
            if ((b & (1UL << i)) != 0)
            {
                r ^= a << i;
            }
        }

        return r & 0xFFFF;
    }
}

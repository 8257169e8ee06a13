using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD three same (FP16) and scalar three same FP16 (FEAT_FP16): FMAXNM, FMLA, FADD,
/// FMULX, FCMEQ, FMAX, FRECPS, FMINNM, FMLS, FSUB, FMIN, FRSQRTS, FMAXNMP, FADDP, FMUL, FCMGE, FACGE,
/// FMAXP, FDIV, FMINNMP, FABD, FCMGT, FACGT, FMINP on 4 or 8 half-precision lanes; the scalar forms
/// FMULX, FCMEQ, FRECPS, FRSQRTS, FCMGE, FACGE, FABD, FCMGT, FACGT on Hd.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdHalfThreeSame)]
    private Flow AdvSimdHalfThreeSame(uint insn) => SimdHalfThreeSame(insn, false);

    [A64Handler(A64Op.SimdScalarHalfThreeSame)]
    private Flow AdvSimdScalarHalfThreeSame(uint insn) => SimdHalfThreeSame(insn, true);

    private Flow SimdHalfThreeSame(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0;
        int op = (int)(((insn >> 29) & 1) << 4 | ((insn >> 23) & 1) << 3 | ((insn >> 11) & 7));
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;

        // op = U:a:opcode; the unallocated values, and in the scalar class everything but the listed forms.
        bool allocated = scalar
            ? op is 0b0_0_011 or 0b0_0_100 or 0b0_0_111 or 0b0_1_111 or 0b1_0_100 or 0b1_0_101 or 0b1_1_010 or 0b1_1_100 or 0b1_1_101
            : op is not (0b0_0_101 or 0b0_1_011 or 0b0_1_100 or 0b0_1_101 or 0b1_0_001 or 0b1_1_001 or 0b1_1_011 or 0b1_1_111);
        if (HalfEnabled(allocated) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        Vec vn = GetV(rn), vm = GetV(rm), vd = GetV(rd), res = default;
        int lanes = scalar ? 1 : q ? 8 : 4;
        bool pairwise = op is 0b1_0_000 or 0b1_0_010 or 0b1_0_110 or 0b1_1_000 or 0b1_1_110;
        for (int i = 0; i < lanes; i++)
        {
            uint a, b;
            if (pairwise)
            {
                // Pairs of the concatenation Vm:Vn, the low lanes from Vn.
                int p = 2 * i;
                Vec src = p < lanes ? vn : vm;
                a = (uint)src.Get(p % lanes, 1);
                b = (uint)src.Get((p + 1) % lanes, 1);
            }
            else
            {
                a = (uint)vn.Get(i, 1);
                b = (uint)vm.Get(i, 1);
            }

            res.Set(i, 1, HalfThreeSameLane(op, a, b, (uint)vd.Get(i, 1)));
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }

    /// <summary>One lane of the three-same FP16 operation <paramref name="op"/> (U:a:opcode).</summary>
    private uint HalfThreeSameLane(int op, uint a, uint b, uint d)
    {
        uint fpcr = State.Fpcr;
        ref uint fpsr = ref State.Fpsr;
        return op switch
        {
            0b0_0_000 or 0b1_0_000 => HalfFloat.MaxMin(HalfFloat.MinMax.MaxNum, a, b, fpcr, ref fpsr),
            0b0_0_001 => HalfFloat.MulAdd(d, a, b, fpcr, ref fpsr),
            0b0_0_010 or 0b1_0_010 => HalfFloat.Add(a, b, false, fpcr, ref fpsr),
            0b0_0_011 => HalfFloat.Mul(a, b, true, fpcr, ref fpsr),
            0b0_0_100 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Eq, a, b, fpcr, ref fpsr)),
            0b0_0_110 or 0b1_0_110 => HalfFloat.MaxMin(HalfFloat.MinMax.Max, a, b, fpcr, ref fpsr),
            0b0_0_111 => HalfFloat.RecipStep(a, b, fpcr, ref fpsr),
            0b0_1_000 or 0b1_1_000 => HalfFloat.MaxMin(HalfFloat.MinMax.MinNum, a, b, fpcr, ref fpsr),
            0b0_1_001 => HalfFloat.MulAdd(d, a ^ HalfFloat.SignMask, b, fpcr, ref fpsr),
            0b0_1_010 => HalfFloat.Add(a, b, true, fpcr, ref fpsr),
            0b0_1_110 or 0b1_1_110 => HalfFloat.MaxMin(HalfFloat.MinMax.Min, a, b, fpcr, ref fpsr),
            0b0_1_111 => HalfFloat.RSqrtStep(a, b, fpcr, ref fpsr),
            0b1_0_011 => HalfFloat.Mul(a, b, false, fpcr, ref fpsr),
            0b1_0_100 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Ge, a, b, fpcr, ref fpsr)),
            0b1_0_101 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.AbsGe, a, b, fpcr, ref fpsr)),
            0b1_0_111 => HalfFloat.Div(a, b, fpcr, ref fpsr),
            0b1_1_010 => HalfFloat.Add(a, b, true, fpcr, ref fpsr) & 0x7FFF,
            0b1_1_100 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Gt, a, b, fpcr, ref fpsr)),
            _ => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.AbsGt, a, b, fpcr, ref fpsr)),
        };
    }

    private static uint HalfMask(bool condition) => condition ? 0xFFFFu : 0;
}

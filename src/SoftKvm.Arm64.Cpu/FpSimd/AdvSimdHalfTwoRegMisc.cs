using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD two-register miscellaneous (FP16) and its scalar class (FEAT_FP16): FRINT[NMPZAXI],
/// FCVT[NMAPZ][SU] and SCVTF/UCVTF between half lanes and 16-bit integers, the compares with zero
/// (FCMGT, FCMEQ, FCMLT, FCMGE, FCMLE), FABS, FNEG, FSQRT, FRECPE, FRSQRTE, and FRECPX (scalar only).
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdHalfTwoRegMisc)]
    private Flow AdvSimdHalfTwoRegMisc(uint insn) => SimdHalfTwoRegMisc(insn, false);

    [A64Handler(A64Op.SimdScalarHalfTwoRegMisc)]
    private Flow AdvSimdScalarHalfTwoRegMisc(uint insn) => SimdHalfTwoRegMisc(insn, true);

    private Flow SimdHalfTwoRegMisc(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0;
        int op = (int)(((insn >> 29) & 1) << 6 | ((insn >> 23) & 1) << 5 | ((insn >> 12) & 31));
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (HalfEnabled(HalfTwoRegMiscAllocated(op, scalar)) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        Vec vn = GetV(rn), res = default;
        int lanes = scalar ? 1 : q ? 8 : 4;
        for (int i = 0; i < lanes; i++)
        {
            res.Set(i, 1, HalfTwoRegMiscLane(op, (uint)vn.Get(i, 1)));
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }

    /// <summary>Whether U:a:opcode names an instruction (the scalar class has no FRINT, FABS, FNEG, FSQRT; only it has FRECPX).</summary>
    private static bool HalfTwoRegMiscAllocated(int op, bool scalar) => op switch
    {
        0b0_0_11010 or 0b0_0_11011 or 0b0_0_11100 or 0b0_0_11101 => true,
        0b0_1_01100 or 0b0_1_01101 or 0b0_1_01110 or 0b0_1_11010 or 0b0_1_11011 or 0b0_1_11101 => true,
        0b1_0_11010 or 0b1_0_11011 or 0b1_0_11100 or 0b1_0_11101 => true,
        0b1_1_01100 or 0b1_1_01101 or 0b1_1_11010 or 0b1_1_11011 or 0b1_1_11101 => true,
        0b0_1_11111 => scalar,
        0b0_0_11000 or 0b0_0_11001 or 0b0_1_01111 or 0b0_1_11000 or 0b0_1_11001 => !scalar,
        0b1_0_11000 or 0b1_0_11001 or 0b1_1_01111 or 0b1_1_11001 or 0b1_1_11111 => !scalar,
        _ => false,
    };

    /// <summary>One lane of the two-register FP16 operation <paramref name="op"/> (U:a:opcode).</summary>
    private uint HalfTwoRegMiscLane(int op, uint a)
    {
        uint fpcr = State.Fpcr;
        ref uint fpsr = ref State.Fpsr;
        int rmode = HalfFloat.RMode(fpcr);
        return op switch
        {
            0b0_0_11000 => HalfFloat.RoundInt(a, 0, false, fpcr, ref fpsr),
            0b0_0_11001 => HalfFloat.RoundInt(a, 2, false, fpcr, ref fpsr),
            0b0_1_11000 => HalfFloat.RoundInt(a, 1, false, fpcr, ref fpsr),
            0b0_1_11001 => HalfFloat.RoundInt(a, 3, false, fpcr, ref fpsr),
            0b1_0_11000 => HalfFloat.RoundInt(a, 4, false, fpcr, ref fpsr),
            0b1_0_11001 => HalfFloat.RoundInt(a, rmode, true, fpcr, ref fpsr),
            0b1_1_11001 => HalfFloat.RoundInt(a, rmode, false, fpcr, ref fpsr),
            0b0_0_11010 or 0b1_0_11010 => (uint)HalfToFixed(a, 0, op >= 0b1_0_00000, 16, 0),
            0b0_0_11011 or 0b1_0_11011 => (uint)HalfToFixed(a, 0, op >= 0b1_0_00000, 16, 2),
            0b0_0_11100 or 0b1_0_11100 => (uint)HalfToFixed(a, 0, op >= 0b1_0_00000, 16, 4),
            0b0_1_11010 or 0b1_1_11010 => (uint)HalfToFixed(a, 0, op >= 0b1_0_00000, 16, 1),
            0b0_1_11011 or 0b1_1_11011 => (uint)HalfToFixed(a, 0, op >= 0b1_0_00000, 16, 3),
            0b0_0_11101 => HalfFromFixed((ulong)(long)(short)a, true, 0),
            0b1_0_11101 => HalfFromFixed(a, false, 0),
            0b0_1_01100 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Gt, a, 0, fpcr, ref fpsr)),
            0b0_1_01101 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Eq, a, 0, fpcr, ref fpsr)),
            0b0_1_01110 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Gt, 0, a, fpcr, ref fpsr)),
            0b1_1_01100 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Ge, a, 0, fpcr, ref fpsr)),
            0b1_1_01101 => HalfMask(HalfFloat.CompareCondition(HalfFloat.Condition.Ge, 0, a, fpcr, ref fpsr)),
            0b0_1_01111 => a & 0x7FFF,
            0b1_1_01111 => a ^ HalfFloat.SignMask,
            0b1_1_11111 => HalfFloat.Sqrt(a, fpcr, ref fpsr),
            0b0_1_11101 => HalfFloat.RecipEstimate(a, fpcr, ref fpsr),
            0b1_1_11101 => HalfFloat.RSqrtEstimate(a, fpcr, ref fpsr),
            _ => HalfFloat.RecpX(a, fpcr, ref fpsr),
        };
    }
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD across lanes and scalar pairwise, half precision (FEAT_FP16): FMAXNMV, FMINNMV,
/// FMAXV, FMINV over 4 or 8 lanes (the pseudocode's Reduce: the two halves reduced recursively, then
/// combined), and FADDP, FMAXNMP, FMINNMP, FMAXP, FMINP of the two low lanes into Hd.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>FMAXNMV, FMINNMV (opcode 01100), FMAXV, FMINV (opcode 01111); o1 (bit 23) chooses the minimum.</summary>
    [A64Handler(A64Op.SimdHalfAcrossLanes)]
    private Flow AdvSimdHalfAcrossLanes(uint insn)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        HalfFloat.MinMax op = HalfReduceOp(insn);
        Vec vn = GetV((int)(insn >> 5) & 31);
        int lanes = ((insn >> 30) & 1) != 0 ? 8 : 4;
        SetHreg((int)insn & 31, HalfReduce(op, vn, 0, lanes));
        return Flow.Next;
    }

    /// <summary>Reduce(op, lanes first..first+count-1): op(Reduce(low half), Reduce(high half)).</summary>
    private uint HalfReduce(HalfFloat.MinMax op, Vec v, int first, int count)
    {
        if (count == 1)
        {
            return (uint)v.Get(first, 1);
        }

        int half = count / 2;
        uint lo = HalfReduce(op, v, first, half), hi = HalfReduce(op, v, first + half, half);
        return HalfFloat.MaxMin(op, lo, hi, State.Fpcr, ref State.Fpsr);
    }

    private static HalfFloat.MinMax HalfReduceOp(uint insn)
    {
        bool min = ((insn >> 23) & 1) != 0, num = ((insn >> 12) & 3) == 0;
        return num ? (min ? HalfFloat.MinMax.MinNum : HalfFloat.MinMax.MaxNum) : (min ? HalfFloat.MinMax.Min : HalfFloat.MinMax.Max);
    }

    /// <summary>Scalar pairwise: FMAXNMP, FMINNMP (01100), FADDP (01101, o1 = 0), FMAXP, FMINP (01111).</summary>
    [A64Handler(A64Op.SimdScalarHalfPairwise)]
    private Flow AdvSimdScalarHalfPairwise(uint insn)
    {
        int opcode = (int)(insn >> 12) & 31;
        bool min = ((insn >> 23) & 1) != 0;
        if (HalfEnabled(opcode is 0b01100 or 0b01111 || (opcode == 0b01101 && !min)) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        Vec vn = GetV((int)(insn >> 5) & 31);
        uint a = (uint)vn.Get(0, 1), b = (uint)vn.Get(1, 1);
        SetHreg((int)insn & 31, opcode == 0b01101
            ? HalfFloat.Add(a, b, false, State.Fpcr, ref State.Fpsr)
            : HalfFloat.MaxMin(HalfReduceOp(insn), a, b, State.Fpcr, ref State.Fpsr));
        return Flow.Next;
    }
}

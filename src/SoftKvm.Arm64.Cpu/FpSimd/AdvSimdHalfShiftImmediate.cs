using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD (scalar) shift by immediate with immh = 001x, the half-precision fixed-point
/// conversions (FEAT_FP16): SCVTF, UCVTF, FCVTZS, FCVTZU with #fbits = 32 - immh:immb (1..16) on 16-bit
/// lanes; and FMOV (vector, immediate) of a half-precision constant.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdHalfShiftImmediate)]
    private Flow AdvSimdHalfShiftImmediate(uint insn) => SimdHalfShiftImmediate(insn, false);

    [A64Handler(A64Op.SimdScalarHalfShiftImmediate)]
    private Flow AdvSimdScalarHalfShiftImmediate(uint insn) => SimdHalfShiftImmediate(insn, true);

    private Flow SimdHalfShiftImmediate(uint insn, bool scalar)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0, toFixed = ((insn >> 11) & 1) != 0;
        int fbits = 32 - (int)((insn >> 16) & 0x7F);
        Vec vn = GetV((int)(insn >> 5) & 31), res = default;
        int lanes = scalar ? 1 : q ? 8 : 4;
        for (int i = 0; i < lanes; i++)
        {
            ulong a = vn.Get(i, 1);
            res.Set(i, 1, toFixed
                ? HalfToFixed((uint)a, fbits, u, 16, 3)
                : HalfFromFixed(u ? a : (ulong)(long)(short)a, !u, fbits));
        }

        SetV((int)insn & 31, res, q && !scalar);
        return Flow.Next;
    }

    /// <summary>FMOV (vector, immediate), half precision: the constant in every lane.</summary>
    [A64Handler(A64Op.SimdHalfFmovImm)]
    private Flow AdvSimdHalfFmovImmediate(uint insn)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        ulong imm = HalfExpandImm((((insn >> 16) & 7) << 5) | ((insn >> 5) & 31));
        ulong rep = imm * 0x0001_0001_0001_0001UL;
        SetVector((int)insn & 31, rep, ((insn >> 30) & 1) != 0 ? rep : 0);
        return Flow.Next;
    }
}

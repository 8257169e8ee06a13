using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD (scalar) x indexed element with size = 00 (FEAT_FP16): FMLA, FMLS, FMUL and
/// FMULX by element on half-precision lanes; the element is H:L:M of V0-V15.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdHalfIndexedElement)]
    private Flow AdvSimdHalfIndexedElement(uint insn) => SimdHalfIndexedElement(insn, false);

    [A64Handler(A64Op.SimdScalarHalfIndexedElement)]
    private Flow AdvSimdScalarHalfIndexedElement(uint insn) => SimdHalfIndexedElement(insn, true);

    private Flow SimdHalfIndexedElement(uint insn, bool scalar)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int opcode = (int)(insn >> 12) & 15;
        if (HalfEnabled(u ? opcode == 9 : opcode != 13) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int index = (int)(((insn >> 11) & 1) << 2 | ((insn >> 21) & 1) << 1 | ((insn >> 20) & 1));
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 15;
        uint element = (uint)GetV(rm).Get(index, 1);
        Vec vn = GetV(rn), vd = GetV(rd), res = default;
        int lanes = scalar ? 1 : q ? 8 : 4;
        uint fpcr = State.Fpcr;
        ref uint fpsr = ref State.Fpsr;
        for (int i = 0; i < lanes; i++)
        {
            uint a = (uint)vn.Get(i, 1);
            res.Set(i, 1, opcode switch
            {
                1 => HalfFloat.MulAdd((uint)vd.Get(i, 1), a, element, fpcr, ref fpsr),
                5 => HalfFloat.MulAdd((uint)vd.Get(i, 1), a ^ HalfFloat.SignMask, element, fpcr, ref fpsr),
                _ => HalfFloat.Mul(a, element, u, fpcr, ref fpsr),
            });
        }

        SetV(rd, res, q && !scalar);
        return Flow.Next;
    }
}

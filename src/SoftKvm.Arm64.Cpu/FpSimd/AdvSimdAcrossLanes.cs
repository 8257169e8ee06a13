using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD across lanes: SADDLV, UADDLV, SMAXV, UMAXV, SMINV, UMINV, ADDV, and
/// FMAXNMV, FMAXV, FMINNMV, FMINV (4S only in ARMv8.0).
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdAcrossLanes)]
    private Flow AdvSimdAcrossLanes(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0, u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (opcode is 12 or 15)
        {
            if (!u || !q || (size & 1) != 0)
            {
                return Undefined();
            }

            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            Vec v = GetV(rn);
            bool min = (size & 2) != 0;
            FpBin op = opcode == 12 ? (min ? FpBin.MinNm : FpBin.MaxNm) : (min ? FpBin.Min : FpBin.Max);
            ulong lo = FpBinary(op, v.Get(0, 2), v.Get(1, 2), false);
            ulong hi = FpBinary(op, v.Get(2, 2), v.Get(3, 2), false);
            SetVector(rd, FpBinary(op, lo, hi, false), 0);
            return Flow.Next;
        }

        bool valid = opcode switch
        {
            3 or 10 or 26 => size != 3 && !(size == 2 && !q),
            27 => !u && size != 3 && !(size == 2 && !q),
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

        Vec vn = GetV(rn);
        int elements = (q ? 16 : 8) >> size;
        ulong acc = u || opcode is 3 or 27 ? vn.Get(0, size) : (ulong)vn.GetSigned(0, size);
        if (opcode == 3 && !u)
        {
            acc = (ulong)vn.GetSigned(0, size);
        }

        for (int i = 1; i < elements; i++)
        {
            ulong x = vn.Get(i, size);
            long sx = vn.GetSigned(i, size);
            acc = opcode switch
            {
                3 => acc + (u ? x : (ulong)sx),
                27 => acc + x,
                10 => u ? Math.Max(acc, x) : (ulong)Math.Max((long)acc, sx),
                _ => u ? Math.Min(acc, x) : (ulong)Math.Min((long)acc, sx),
            };
        }

        int outSize = opcode == 3 ? size + 1 : size;
        SetVector(rd, acc & Mask(outSize), 0);
        return Flow.Next;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>C4.1.95 Advanced SIMD scalar pairwise: ADDP (2D to D), FADDP, FMAXP, FMINP, FMAXNMP, FMINNMP.</summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdScalarPairwise)]
    private Flow AdvSimdScalarPairwise(uint insn)
    {
        bool u = ((insn >> 29) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 31;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (!u)
        {
            if (opcode != 27 || size != 3)
            {
                return Undefined();
            }

            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            Vec v = GetV(rn);
            SetVector(rd, v.Lo + v.Hi, 0);
            return Flow.Next;
        }

        bool dbl = (size & 1) != 0, min = (size & 2) != 0;
        FpBin? op = (opcode, min) switch
        {
            (12, false) => FpBin.MaxNm,
            (12, true) => FpBin.MinNm,
            (13, false) => FpBin.Add,
            (15, false) => FpBin.Max,
            (15, true) => FpBin.Min,
            _ => null,
        };
        if (op is null)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn);
        int esize = dbl ? 3 : 2;
        SetVector(rd, FpBinary(op.Value, vn.Get(0, esize), vn.Get(1, esize), dbl), 0);
        return Flow.Next;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// FEAT_FlagM (CFINV, RMIF, SETF8, SETF16) and FEAT_FlagM2 (XAFLAG, AXFLAG, which convert between the
/// Arm NZCV result of a floating-point compare and an "external" format): they change PSTATE.NZCV only.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.Cfinv)]
    private Flow Cfinv()
    {
        if (!Has(CpuFeatures.FlagM))
        {
            return Undefined();
        }

        State.Nzcv ^= FlagC;
        return Flow.Next;
    }

    [A64Handler(A64Op.Xaflag)]
    private Flow Xaflag()
    {
        if (!Has(CpuFeatures.FlagM2))
        {
            return Undefined();
        }

        bool z = (State.Nzcv & FlagZ) != 0, c = (State.Nzcv & FlagC) != 0;
        State.Nzcv = (!c && !z ? FlagN : 0) | (z && c ? FlagZ : 0) | (c || z ? FlagC : 0) | (!c && z ? FlagV : 0);
        return Flow.Next;
    }

    [A64Handler(A64Op.Axflag)]
    private Flow Axflag()
    {
        if (!Has(CpuFeatures.FlagM2))
        {
            return Undefined();
        }

        bool z = (State.Nzcv & FlagZ) != 0, c = (State.Nzcv & FlagC) != 0, v = (State.Nzcv & FlagV) != 0;
        State.Nzcv = (z || v ? FlagZ : 0) | (c && !v ? FlagC : 0);
        return Flow.Next;
    }

    /// <summary>RMIF Xn, #shift, #mask: the flags named by mask[3:0] (N, Z, C, V) from bits [3:0] of Xn rotated right by shift.</summary>
    [A64Handler(A64Op.Rmif)]
    private Flow Rmif(uint insn)
    {
        if (!Has(CpuFeatures.FlagM))
        {
            return Undefined();
        }

        int shift = (int)(insn >> 15) & 63;
        uint mask = insn & 15;
        uint bits = (uint)ulong.RotateRight(X((int)(insn >> 5) & 31), shift) & 15;
        State.Nzcv = (State.Nzcv & ~(mask << 28)) | ((bits & mask) << 28);
        return Flow.Next;
    }

    /// <summary>SETF8/SETF16 Wn: N and Z from the byte or halfword, V from its top bit XOR the next; C unchanged.</summary>
    [A64Handler(A64Op.Setf)]
    private Flow Setf(uint insn)
    {
        if (!Has(CpuFeatures.FlagM))
        {
            return Undefined();
        }

        int bits = ((insn >> 14) & 1) != 0 ? 16 : 8;
        uint w = (uint)X((int)(insn >> 5) & 31);
        uint top = (w >> (bits - 1)) & 1;
        bool zero = (w & ((1U << bits) - 1)) == 0;
        uint v = ((w >> bits) & 1) ^ top;
        State.Nzcv = (State.Nzcv & FlagC) | (top << 31) | (zero ? FlagZ : 0) | (v << 28);
        return Flow.Next;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.96 conversions between half precision and integers (FEAT_FP16): FCVT[NPMZA][SU] (scalar, to a
/// 32- or 64-bit register), SCVTF, UCVTF, FMOV between Hd and Wn/Xn, and the fixed-point forms with
/// #fbits. The conversion to an integer goes through <see cref="FpToFixed"/> on the exact binary64 value
/// of the half (FZ16 flushing first); the conversion from an integer rounds once in <see cref="HalfFloat.FromFixed"/>.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>FPToFixed of a half: <paramref name="bits"/>-bit result, <paramref name="rounding"/> as FPRounding.</summary>
    private ulong HalfToFixed(uint a, int fbits, bool unsigned, int bits, int rounding)
    {
        a = HalfFloat.In(a, State.Fpcr);
        ulong wide = HalfFloat.IsNaN(a) ? DefaultNan64 : Bits(HalfFloat.ToDouble(a));
        return FpToFixed(wide, true, fbits, unsigned, bits, rounding);
    }

    /// <summary>FixedToFP to a half.</summary>
    private uint HalfFromFixed(ulong value, bool signed, int fbits) => HalfFloat.FromFixed(value, signed, fbits, State.Fpcr, ref State.Fpsr);

    /// <summary>Conversion between half precision and integer, FMOV (general) with a half.</summary>
    [A64Handler(A64Op.HalfIntConversion)]
    private Flow HalfIntegerConversion(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        int rmode = (int)(insn >> 19) & 3, opcode = (int)(insn >> 16) & 7;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (HalfEnabled(opcode < 2 || rmode == 0) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int bits = sf ? 64 : 32;
        switch (opcode)
        {
            case 0:
            case 1:
                SetReg(rd, HalfToFixed(Hreg(rn), 0, opcode == 1, bits, rmode), sf);
                break;
            case 2:
            case 3:
            {
                ulong x = X(rn);
                if (!sf)
                {
                    x = opcode == 2 ? (ulong)(long)(int)x : (uint)x;
                }

                SetHreg(rd, HalfFromFixed(x, opcode == 2, 0));
                break;
            }

            case 4:
            case 5:
                SetReg(rd, HalfToFixed(Hreg(rn), 0, opcode == 5, bits, 4), sf);
                break;
            case 6:
                SetReg(rd, Hreg(rn), sf);
                break;
            default:
                SetHreg(rd, (uint)X(rn));
                break;
        }

        return Flow.Next;
    }

    /// <summary>Conversion between half precision and fixed point: FCVTZS, FCVTZU, SCVTF, UCVTF with #fbits.</summary>
    [A64Handler(A64Op.HalfFixedConversion)]
    private Flow HalfFixedConversion(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        int rmode = (int)(insn >> 19) & 3, opcode = (int)(insn >> 16) & 7, scale = (int)(insn >> 10) & 63;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        bool toFixed = rmode == 3 && opcode is 0 or 1, fromFixed = rmode == 0 && opcode is 2 or 3;
        if (HalfEnabled((sf || scale >= 32) && (toFixed || fromFixed)) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int fbits = 64 - scale;
        if (toFixed)
        {
            SetReg(rd, HalfToFixed(Hreg(rn), fbits, opcode == 1, sf ? 64 : 32, 3), sf);
            return Flow.Next;
        }

        ulong x = X(rn);
        if (!sf)
        {
            x = opcode == 2 ? (ulong)(long)(int)x : (uint)x;
        }

        SetHreg(rd, HalfFromFixed(x, opcode == 2, fbits));
        return Flow.Next;
    }
}

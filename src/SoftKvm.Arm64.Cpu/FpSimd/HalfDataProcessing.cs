using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.96 scalar floating-point data processing with ftype = 11 (FEAT_FP16): 1 source (FMOV, FABS,
/// FNEG, FSQRT, FRINT[NPMZAXI]; FCVT from half stays in <c>FpDataProcessing.cs</c>), 2 source (FMUL,
/// FDIV, FADD, FSUB, FMAX, FMIN, FMAXNM, FMINNM, FNMUL), 3 source (FMADD, FMSUB, FNMADD, FNMSUB),
/// FMOV (scalar, immediate) and FCSEL, on the half-precision core (<see cref="HalfFloat"/>). UNDEFINED
/// without <see cref="CpuFeatures.Fp16"/>. Results clear the bits of Vd above the half.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>Hn: the low 16 bits of Vn.</summary>
    private uint Hreg(int n) => (uint)State.V[2 * n] & 0xFFFF;

    /// <summary>Writes Hd, clearing the rest of Vd.</summary>
    private void SetHreg(int d, uint value) => SetVector(d, value & 0xFFFF, 0);

    /// <summary>Checks FEAT_FP16 and CPACR_EL1.FPEN: Next when the instruction may run, else its flow (UNDEFINED or the trap).</summary>
    private Flow HalfEnabled(bool allocated = true)
    {
        if (!allocated || !Has(CpuFeatures.Fp16))
        {
            return Undefined();
        }

        return FpEnabled() ? Flow.Next : Flow.Exception;
    }

    /// <summary>FP data-processing (1 source), half precision: FMOV, FABS, FNEG, FSQRT, FRINT*.</summary>
    [A64Handler(A64Op.HalfDataProc1)]
    private Flow HalfDataProcessing1(uint insn)
    {
        int opcode = (int)(insn >> 15) & 63, rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (HalfEnabled(opcode != 13) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        uint a = Hreg(rn);
        uint fpcr = State.Fpcr;
        ref uint fpsr = ref State.Fpsr;
        uint r = opcode switch
        {
            0 => a,
            1 => a & 0x7FFF,
            2 => a ^ HalfFloat.SignMask,
            3 => HalfFloat.Sqrt(a, fpcr, ref fpsr),
            14 => HalfFloat.RoundInt(a, HalfFloat.RMode(fpcr), true, fpcr, ref fpsr),
            15 => HalfFloat.RoundInt(a, HalfFloat.RMode(fpcr), false, fpcr, ref fpsr),
            _ => HalfFloat.RoundInt(a, opcode - 8, false, fpcr, ref fpsr),
        };
        SetHreg(rd, r);
        return Flow.Next;
    }

    /// <summary>FP data-processing (2 source), half precision.</summary>
    [A64Handler(A64Op.HalfDataProc2)]
    private Flow HalfDataProcessing2(uint insn)
    {
        int opcode = (int)(insn >> 12) & 15;
        if (HalfEnabled(opcode <= 8) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        SetHreg(rd, HalfBinary(opcode, Hreg(rn), Hreg(rm)));
        return Flow.Next;
    }

    /// <summary>The 2-source operation of <paramref name="opcode"/> (FMUL, FDIV, FADD, FSUB, FMAX, FMIN, FMAXNM, FMINNM, FNMUL).</summary>
    private uint HalfBinary(int opcode, uint a, uint b)
    {
        uint fpcr = State.Fpcr;
        ref uint fpsr = ref State.Fpsr;
        return opcode switch
        {
            0 => HalfFloat.Mul(a, b, false, fpcr, ref fpsr),
            1 => HalfFloat.Div(a, b, fpcr, ref fpsr),
            2 => HalfFloat.Add(a, b, false, fpcr, ref fpsr),
            3 => HalfFloat.Add(a, b, true, fpcr, ref fpsr),
            4 => HalfFloat.MaxMin(HalfFloat.MinMax.Max, a, b, fpcr, ref fpsr),
            5 => HalfFloat.MaxMin(HalfFloat.MinMax.Min, a, b, fpcr, ref fpsr),
            6 => HalfFloat.MaxMin(HalfFloat.MinMax.MaxNum, a, b, fpcr, ref fpsr),
            7 => HalfFloat.MaxMin(HalfFloat.MinMax.MinNum, a, b, fpcr, ref fpsr),
            _ => HalfFloat.Mul(a, b, false, fpcr, ref fpsr) ^ HalfFloat.SignMask,
        };
    }

    /// <summary>FP data-processing (3 source), half precision: FMADD, FMSUB, FNMADD, FNMSUB.</summary>
    [A64Handler(A64Op.HalfDataProc3)]
    private Flow HalfDataProcessing3(uint insn)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        bool o1 = ((insn >> 21) & 1) != 0, o0 = ((insn >> 15) & 1) != 0;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31, ra = (int)(insn >> 10) & 31;
        uint a = Hreg(ra), n = Hreg(rn);
        if (o0 != o1)
        {
            n ^= HalfFloat.SignMask;
        }

        if (o1)
        {
            a ^= HalfFloat.SignMask;
        }

        SetHreg(rd, HalfFloat.MulAdd(a, n, Hreg(rm), State.Fpcr, ref State.Fpsr));
        return Flow.Next;
    }

    /// <summary>FMOV (scalar, immediate), half precision.</summary>
    [A64Handler(A64Op.HalfFmovImm)]
    private Flow HalfFmovImmediate(uint insn)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        SetHreg((int)insn & 31, HalfExpandImm((insn >> 13) & 0xFF));
        return Flow.Next;
    }

    /// <summary>VFPExpandImm for N = 16: sign a, exponent NOT(b):b:b:c:d, fraction efgh:000000.</summary>
    private static uint HalfExpandImm(uint imm8)
    {
        uint a = imm8 >> 7, b = (imm8 >> 6) & 1, cd = (imm8 >> 4) & 3, efgh = imm8 & 15;
        return (a << 15) | ((b ^ 1) << 14) | (b != 0 ? 3u << 12 : 0) | (cd << 10) | (efgh << 6);
    }

    /// <summary>FCSEL, half precision.</summary>
    [A64Handler(A64Op.HalfCondSelect)]
    private Flow HalfConditionalSelect(uint insn)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        SetHreg(rd, Hreg(ConditionHolds((int)(insn >> 12) & 15) ? rn : rm));
        return Flow.Next;
    }

    /// <summary>FCMP, FCMPE (register or zero), half precision.</summary>
    [A64Handler(A64Op.HalfCompare)]
    private Flow HalfCompareInstruction(uint insn)
    {
        uint op = (insn >> 14) & 3, opc2 = insn & 31;
        if (HalfEnabled(op == 0 && (opc2 & 7) == 0) is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        uint b = (opc2 & 8) != 0 ? 0 : Hreg(rm);
        State.Nzcv = HalfFloat.Compare(Hreg(rn), b, (opc2 & 16) != 0, State.Fpcr, ref State.Fpsr);
        return Flow.Next;
    }

    /// <summary>FCCMP, FCCMPE, half precision.</summary>
    [A64Handler(A64Op.HalfCondCompare)]
    private Flow HalfConditionalCompare(uint insn)
    {
        if (HalfEnabled() is var flow && flow != Flow.Next)
        {
            return flow;
        }

        int rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        State.Nzcv = ConditionHolds((int)(insn >> 12) & 15)
            ? HalfFloat.Compare(Hreg(rn), Hreg(rm), ((insn >> 4) & 1) != 0, State.Fpcr, ref State.Fpsr)
            : (insn & 15) << 28;
        return Flow.Next;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.96 Data processing -- scalar floating-point (Arm ARM DDI 0487): data-processing (1, 2 and 3
/// source), compare, conditional compare, conditional select, conversions between precisions,
/// to and from integers (FCVT[NPMZA][SU], SCVTF, UCVTF, fixed point too), FRINT*. Single and double
/// precision; half precision only where ARMv8.0 has it (FCVT). Results clear the upper bits of Vd.
/// </summary>
public sealed partial class Arm64Cpu
{
    private ulong Vlow(int n) => State.V[2 * n];

    private void SetScalar(int d, ulong value, bool dbl) => SetVector(d, dbl ? value : (uint)value, 0);

    /// <summary>FP data-processing (1 source): FMOV, FABS, FNEG, FSQRT, FCVT, FRINT*.</summary>
    [A64Handler(A64Op.FpDataProc1)]
    private Flow FpDataProcessing1(uint insn)
    {
        uint type = (insn >> 22) & 3, opcode = (insn >> 15) & 63;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (type == 2 || ((insn >> 29) & 1) != 0 || (insn >> 31) != 0)
        {
            return Undefined();
        }

        if (opcode is 4 or 5 or 7)
        {
            int from = type == 3 ? 0 : (int)type + 1;
            int to = opcode == 7 ? 0 : (int)opcode - 3;
            if (from == to)
            {
                return Undefined();
            }

            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            SetVector(rd, FpConvert(Vlow(rn) & (from == 0 ? 0xFFFFUL : from == 1 ? 0xFFFF_FFFFUL : ulong.MaxValue), from, to), 0);
            return Flow.Next;
        }

        if (type == 3 || opcode > 15 || opcode is 6 or 13)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn);
        ulong sign = ZeroOf(true, dbl);
        ulong r = opcode switch
        {
            0 => a,
            1 => a & ~sign,
            2 => a ^ sign,
            3 => FpSqrt(a, dbl),
            8 => FpRoundInt(a, dbl, 0, false),
            9 => FpRoundInt(a, dbl, 1, false),
            10 => FpRoundInt(a, dbl, 2, false),
            11 => FpRoundInt(a, dbl, 3, false),
            12 => FpRoundInt(a, dbl, 4, false),
            14 => FpRoundInt(a, dbl, FpRMode, true),
            _ => FpRoundInt(a, dbl, FpRMode, false),
        };
        SetScalar(rd, r, dbl);
        return Flow.Next;
    }

    /// <summary>FP data-processing (2 source): FMUL, FDIV, FADD, FSUB, FMAX, FMIN, FMAXNM, FMINNM, FNMUL.</summary>
    [A64Handler(A64Op.FpDataProc2)]
    private Flow FpDataProcessing2(uint insn)
    {
        uint type = (insn >> 22) & 3, opcode = (insn >> 12) & 15;
        if (type > 1 || opcode > 8 || (insn >> 29) != 0)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn), b = dbl ? Vlow(rm) : (uint)Vlow(rm);
        ulong r = opcode switch
        {
            0 => FpBinary(FpBin.Mul, a, b, dbl),
            1 => FpBinary(FpBin.Div, a, b, dbl),
            2 => FpBinary(FpBin.Add, a, b, dbl),
            3 => FpBinary(FpBin.Sub, a, b, dbl),
            4 => FpBinary(FpBin.Max, a, b, dbl),
            5 => FpBinary(FpBin.Min, a, b, dbl),
            6 => FpBinary(FpBin.MaxNm, a, b, dbl),
            7 => FpBinary(FpBin.MinNm, a, b, dbl),
            _ => FpNeg(FpBinary(FpBin.Mul, a, b, dbl), dbl),
        };
        SetScalar(rd, r, dbl);
        return Flow.Next;
    }

    /// <summary>FPNeg: flips the sign bit, of NaNs too (FNMUL negates the rounded product, FMLS the first operand).</summary>
    private static ulong FpNeg(ulong x, bool dbl) => x ^ ZeroOf(true, dbl);

    /// <summary>FPMulX: FMUL except that infinity times zero gives 2.0 with the product's sign.</summary>
    private ulong FpMulX(ulong a, ulong b, bool dbl)
    {
        ulong fa = FpIn(a, dbl), fb = FpIn(b, dbl);
        if (!IsNaN(fa, dbl) && !IsNaN(fb, dbl) && ((IsInf(fa, dbl) && IsZero(fb, dbl)) || (IsZero(fa, dbl) && IsInf(fb, dbl))))
        {
            return FpConstant(2.0, dbl) | ZeroOf(SignBit(fa, dbl) != SignBit(fb, dbl), dbl);
        }

        return FpBinary(FpBin.Mul, fa, fb, dbl);
    }

    /// <summary>FPRecipStepFused (2 - a*b) and FPRSqrtStepFused ((3 - a*b) / 2), one rounding.</summary>
    private ulong FpStepFused(ulong a, ulong b, bool dbl, bool rsqrt)
    {
        a = FpNeg(FpIn(a, dbl), dbl);
        b = FpIn(b, dbl);
        if (ProcessNaNs(a, b, dbl, out ulong nan))
        {
            return nan;
        }

        bool infA = IsInf(a, dbl), infB = IsInf(b, dbl);
        if ((infA && IsZero(b, dbl)) || (IsZero(a, dbl) && infB))
        {
            return FpConstant(rsqrt ? 1.5 : 2.0, dbl);
        }

        if (infA || infB)
        {
            return InfOf(SignBit(a, dbl) != SignBit(b, dbl), dbl);
        }

        if (!rsqrt)
        {
            return FpMulAdd(FpConstant(2.0, dbl), a, b, dbl);
        }

        // (3 + a*b) / 2: halve the operand a exactly unless it is subnormal-bound, so one rounding remains.
        double x = ToHost(a, dbl);
        ulong halfA = dbl ? Bits(x / 2) : BitConverter.SingleToUInt32Bits((float)(x / 2));
        return ToHost(halfA, dbl) * 2 == x
            ? FpMulAdd(FpConstant(1.5, dbl), halfA, b, dbl)
            : FpBinary(FpBin.Mul, FpMulAdd(FpConstant(3.0, dbl), a, b, dbl), FpConstant(0.5, dbl), dbl);
    }

    private static ulong FpConstant(double value, bool dbl) => dbl ? Bits(value) : BitConverter.SingleToUInt32Bits((float)value);

    /// <summary>FP data-processing (3 source): FMADD, FMSUB, FNMADD, FNMSUB.</summary>
    [A64Handler(A64Op.FpDataProc3)]
    private Flow FpDataProcessing3(uint insn)
    {
        uint type = (insn >> 22) & 3;
        if (type > 1 || (insn >> 29) != 0)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        bool o1 = ((insn >> 21) & 1) != 0, o0 = ((insn >> 15) & 1) != 0;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31, ra = (int)(insn >> 10) & 31;
        ulong sign = ZeroOf(true, dbl);
        ulong a = dbl ? Vlow(ra) : (uint)Vlow(ra), n = dbl ? Vlow(rn) : (uint)Vlow(rn), m = dbl ? Vlow(rm) : (uint)Vlow(rm);
        if (o0)
        {
            n ^= sign;
        }

        if (o1)
        {
            a ^= sign;
            n ^= sign;
        }

        SetScalar(rd, FpMulAdd(a, n, m, dbl), dbl);
        return Flow.Next;
    }

    /// <summary>FCMP, FCMPE (register or zero).</summary>
    [A64Handler(A64Op.FpCompare)]
    private Flow FpCompareInstruction(uint insn)
    {
        uint type = (insn >> 22) & 3, op = (insn >> 14) & 3, opc2 = insn & 31;
        if (type > 1 || op != 0 || (opc2 & 7) != 0 || (insn >> 29) != 0)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        int rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn);
        ulong b = (opc2 & 8) != 0 ? 0 : dbl ? Vlow(rm) : (uint)Vlow(rm);
        State.Nzcv = FpCompare(a, b, dbl, (opc2 & 16) != 0);
        return Flow.Next;
    }

    /// <summary>FCCMP, FCCMPE.</summary>
    [A64Handler(A64Op.FpCondCompare)]
    private Flow FpConditionalCompare(uint insn)
    {
        uint type = (insn >> 22) & 3;
        if (type > 1 || (insn >> 29) != 0)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        int rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (ConditionHolds((int)(insn >> 12) & 15))
        {
            ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn), b = dbl ? Vlow(rm) : (uint)Vlow(rm);
            State.Nzcv = FpCompare(a, b, dbl, ((insn >> 4) & 1) != 0);
        }
        else
        {
            State.Nzcv = (insn & 15) << 28;
        }

        return Flow.Next;
    }

    /// <summary>FCSEL.</summary>
    [A64Handler(A64Op.FpCondSelect)]
    private Flow FpConditionalSelect(uint insn)
    {
        uint type = (insn >> 22) & 3;
        if (type > 1 || (insn >> 29) != 0)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        int src = ConditionHolds((int)(insn >> 12) & 15) ? rn : rm;
        SetScalar(rd, Vlow(src), dbl);
        return Flow.Next;
    }

    /// <summary>Conversion between FP and integer (FMOV general forms are matched by an earlier row).</summary>
    [A64Handler(A64Op.FpIntConversion)]
    private Flow FpIntegerConversion(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        uint type = (insn >> 22) & 3, rmode = (insn >> 19) & 3, opcode = (insn >> 16) & 7;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (type > 1 || ((insn >> 29) & 1) != 0 || opcode >= 6 || (opcode >= 2 && opcode <= 3 && rmode != 0) || (opcode is 4 or 5 && rmode != 0))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        bool dbl = type == 1;
        int bits = sf ? 64 : 32;
        switch (opcode)
        {
            case 0:
            case 1:
            {
                ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn);
                int rounding = (int)rmode switch { 0 => 0, 1 => 1, 2 => 2, _ => 3 };
                SetReg(rd, FpToFixed(a, dbl, 0, opcode == 1, bits, rounding), sf);
                return Flow.Next;
            }

            case 2:
            case 3:
            {
                ulong x = X(rn);
                if (!sf)
                {
                    x = opcode == 2 ? (ulong)(long)(int)x : (uint)x;
                }

                SetScalar(rd, FixedToFp(x, opcode == 2, 0, dbl), dbl);
                return Flow.Next;
            }

            default:
            {
                ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn);
                SetReg(rd, FpToFixed(a, dbl, 0, opcode == 5, bits, 4), sf);
                return Flow.Next;
            }
        }
    }

    /// <summary>Conversion between FP and fixed point: FCVTZS, FCVTZU, SCVTF, UCVTF with #fbits.</summary>
    [A64Handler(A64Op.FpFixedConversion)]
    private Flow FpFixedConversion(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        uint type = (insn >> 22) & 3, rmode = (insn >> 19) & 3, opcode = (insn >> 16) & 7, scale = (insn >> 10) & 63;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (type > 1 || ((insn >> 29) & 1) != 0 || (!sf && scale < 32))
        {
            return Undefined();
        }

        int fbits = 64 - (int)scale;
        bool dbl = type == 1;
        int bits = sf ? 64 : 32;
        if (rmode == 3 && opcode is 0 or 1)
        {
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            ulong a = dbl ? Vlow(rn) : (uint)Vlow(rn);
            SetReg(rd, FpToFixed(a, dbl, fbits, opcode == 1, bits, 3), sf);
            return Flow.Next;
        }

        if (rmode == 0 && opcode is 2 or 3)
        {
            if (!FpEnabled())
            {
                return Flow.Exception;
            }

            ulong x = X(rn);
            if (!sf)
            {
                x = opcode == 2 ? (ulong)(long)(int)x : (uint)x;
            }

            SetScalar(rd, FixedToFp(x, opcode == 2, fbits, dbl), dbl);
            return Flow.Next;
        }

        return Undefined();
    }
}

using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.90 the FP/SIMD register moves that compiled code uses to copy and clear registers: FMOV
/// (general, register, immediate), MOVI/MVNI/ORR/BIC (vector immediate), DUP (general), UMOV, INS.
/// FP arithmetic is not implemented (ID_AA64PFR0_EL1.FP = 0xF) and stays UNDEFINED.
/// </summary>
public sealed partial class Arm64Cpu
{
    private ulong GetElement(int v, int index, int sizeLog2)
    {
        int bit = index << (sizeLog2 + 3);
        ulong half = State.V[(2 * v) + (bit >> 6)];
        int width = 8 << sizeLog2;
        return width == 64 ? half : (half >> (bit & 63)) & ((1UL << width) - 1);
    }

    private void SetElement(int v, int index, int sizeLog2, ulong value)
    {
        int bit = index << (sizeLog2 + 3);
        ref ulong half = ref State.V[(2 * v) + (bit >> 6)];
        int width = 8 << sizeLog2;
        if (width == 64)
        {
            half = value;
            return;
        }

        ulong mask = ((1UL << width) - 1) << (bit & 63);
        half = (half & ~mask) | ((value << (bit & 63)) & mask);
    }

    private void SetVector(int v, ulong lo, ulong hi)
    {
        State.V[2 * v] = lo;
        State.V[(2 * v) + 1] = hi;
    }

    [A64Handler(A64Op.FmovGeneral)]
    private Flow FmovGeneral(uint insn)
    {
        uint sf = insn >> 31, type = (insn >> 22) & 3, rmode = (insn >> 19) & 3, opcode = (insn >> 16) & 7;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if ((opcode & 6) != 6)
        {
            return Undefined();
        }

        bool toGeneral = opcode == 6;
        uint form = (sf << 4) | (type << 2) | rmode;
        if (form != ((0u << 4) | (0u << 2) | 0u) && form != ((1u << 4) | (1u << 2) | 0u) && form != ((1u << 4) | (2u << 2) | 1u))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        if (form == ((1u << 4) | (2u << 2) | 1u))
        {
            if (toGeneral)
            {
                SetX(rd, State.V[(2 * rn) + 1]);
            }
            else
            {
                State.V[(2 * rd) + 1] = X(rn);
            }
        }
        else if (toGeneral)
        {
            SetReg(rd, State.V[2 * rn], sf != 0);
        }
        else
        {
            SetVector(rd, sf != 0 ? X(rn) : (uint)X(rn), 0);
        }

        return Flow.Next;
    }

    [A64Handler(A64Op.FmovReg)]
    private Flow FmovRegister(uint insn)
    {
        uint type = (insn >> 22) & 3;
        if (type > 1)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        ulong v = State.V[2 * ((int)(insn >> 5) & 31)];
        SetVector((int)insn & 31, type == 0 ? (uint)v : v, 0);
        return Flow.Next;
    }

    private static ulong VfpExpandImm(uint imm8, bool doublePrecision)
    {
        ulong a = imm8 >> 7, b = (imm8 >> 6) & 1, cd = (imm8 >> 4) & 3, efgh = imm8 & 15;
        if (doublePrecision)
        {
            return (a << 63) | ((b ^ 1) << 62) | (b != 0 ? 0xFFUL << 54 : 0) | (cd << 52) | (efgh << 48);
        }

        return (a << 31) | ((b ^ 1) << 30) | (b != 0 ? 0x1FUL << 25 : 0) | (cd << 23) | (efgh << 19);
    }

    [A64Handler(A64Op.FmovImm)]
    private Flow FmovImmediate(uint insn)
    {
        uint type = (insn >> 22) & 3;
        if (type > 1)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        SetVector((int)insn & 31, VfpExpandImm((insn >> 13) & 0xFF, type == 1), 0);
        return Flow.Next;
    }

    [A64Handler(A64Op.Movi)]
    private Flow MoveImmediateVector(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0, op = ((insn >> 29) & 1) != 0;
        uint cmode = (insn >> 12) & 15;
        uint imm8 = (((insn >> 16) & 7) << 5) | ((insn >> 5) & 31);
        ulong imm;
        bool orr = false, bic = false, invert = false;
        switch (cmode >> 1)
        {
            case 0: case 1: case 2: case 3:
                imm = (ulong)imm8 << (int)(8 * (cmode >> 1));
                imm |= imm << 32;
                orr = (cmode & 1) != 0 && !op;
                bic = (cmode & 1) != 0 && op;
                invert = (cmode & 1) == 0 && op;
                break;
            case 4: case 5:
                imm = (ulong)imm8 << (int)(8 * ((cmode >> 1) & 1));
                imm |= imm << 16;
                imm |= imm << 32;
                orr = (cmode & 1) != 0 && !op;
                bic = (cmode & 1) != 0 && op;
                invert = (cmode & 1) == 0 && op;
                break;
            case 6:
                imm = (cmode & 1) == 0 ? ((ulong)imm8 << 8) | 0xFF : ((ulong)imm8 << 16) | 0xFFFF;
                imm |= imm << 32;
                invert = op;
                break;
            default:
                if ((cmode & 1) == 0)
                {
                    if (!op)
                    {
                        imm = imm8 * 0x0101_0101_0101_0101UL;
                    }
                    else
                    {
                        imm = 0;
                        for (int i = 0; i < 8; i++)
                        {
                            if ((imm8 & (1u << i)) != 0)
                            {
                                imm |= 0xFFUL << (8 * i);
                            }
                        }
                    }
                }
                else if (!op)
                {
                    imm = VfpExpandImm(imm8, false);
                    imm |= imm << 32;
                }
                else
                {
                    if (!q)
                    {
                        return Undefined();
                    }

                    imm = VfpExpandImm(imm8, true);
                }

                break;
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int rd = (int)insn & 31;
        if (invert)
        {
            imm = ~imm;
        }

        ulong lo = imm, hi = imm;
        if (orr)
        {
            lo = State.V[2 * rd] | imm;
            hi = State.V[(2 * rd) + 1] | imm;
        }
        else if (bic)
        {
            lo = State.V[2 * rd] & ~imm;
            hi = State.V[(2 * rd) + 1] & ~imm;
        }

        SetVector(rd, lo, q ? hi : 0);
        return Flow.Next;
    }

    private static int ElementSize(uint imm5) => imm5 == 0 ? -1 : System.Numerics.BitOperations.TrailingZeroCount(imm5);

    [A64Handler(A64Op.DupGeneral)]
    private Flow DupGeneral(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0;
        int size = ElementSize((insn >> 16) & 31);
        if (size < 0 || size > 3 || (size == 3 && !q))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        ulong element = X((int)(insn >> 5) & 31);
        ulong rep = size switch
        {
            0 => (byte)element * 0x0101_0101_0101_0101UL,
            1 => (ushort)element * 0x0001_0001_0001_0001UL,
            2 => (uint)element * 0x0000_0001_0000_0001UL,
            _ => element,
        };
        SetVector((int)insn & 31, rep, q ? rep : 0);
        return Flow.Next;
    }

    [A64Handler(A64Op.UmovToGeneral)]
    private Flow UmovToGeneral(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0;
        uint imm5 = (insn >> 16) & 31;
        int size = ElementSize(imm5);
        if (size < 0 || size > 3 || (size == 3) != q)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int index = (int)(imm5 >> (size + 1));
        SetReg((int)insn & 31, GetElement((int)(insn >> 5) & 31, index, size), q);
        return Flow.Next;
    }

    [A64Handler(A64Op.InsGeneral)]
    private Flow InsGeneral(uint insn)
    {
        uint imm5 = (insn >> 16) & 31;
        int size = ElementSize(imm5);
        if (size < 0 || size > 3)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        SetElement((int)insn & 31, (int)(imm5 >> (size + 1)), size, X((int)(insn >> 5) & 31));
        return Flow.Next;
    }

    [A64Handler(A64Op.InsElement)]
    private Flow InsElement(uint insn)
    {
        uint imm5 = (insn >> 16) & 31, imm4 = (insn >> 11) & 15;
        int size = ElementSize(imm5);
        if (size < 0 || size > 3)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        ulong value = GetElement((int)(insn >> 5) & 31, (int)(imm4 >> size), size);
        SetElement((int)insn & 31, (int)(imm5 >> (size + 1)), size, value);
        return Flow.Next;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.95 Advanced SIMD permute (UZP1/2, TRN1/2, ZIP1/2), extract (EXT), table lookup (TBL, TBX) and
/// the copy forms the move handlers in SimdMoves.cs do not cover: DUP (element, vector and scalar), SMOV.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdPermute)]
    private Flow AdvSimdPermute(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0;
        int size = (int)(insn >> 22) & 3, opcode = (int)(insn >> 12) & 7;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (opcode == 0 || opcode == 4 || (size == 3 && !q))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), vm = GetV(rm), res = default;
        int elements = (q ? 16 : 8) >> size;
        int half = elements / 2;
        int second = (opcode >> 2) & 1;
        for (int i = 0; i < elements; i++)
        {
            ulong value;
            switch (opcode & 3)
            {
                case 1:
                {
                    // UZP: the even (or odd) elements of the concatenation m:n.
                    int src = (2 * i) + second;
                    value = src < elements ? vn.Get(src, size) : vm.Get(src - elements, size);
                    break;
                }

                case 2:
                {
                    int pair = i & ~1;
                    value = (i & 1) == 0 ? vn.Get(pair + second, size) : vm.Get(pair + second, size);
                    break;
                }

                default:
                {
                    int src = (second * half) + (i >> 1);
                    value = (i & 1) == 0 ? vn.Get(src, size) : vm.Get(src, size);
                    break;
                }
            }

            res.Set(i, size, value);
        }

        SetV(rd, res, q);
        return Flow.Next;
    }

    [A64Handler(A64Op.SimdExtract)]
    private Flow AdvSimdExtract(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0;
        int imm4 = (int)(insn >> 11) & 15;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (((insn >> 22) & 3) != 0 || (!q && imm4 >= 8))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec vn = GetV(rn), vm = GetV(rm), res = default;
        int bytes = q ? 16 : 8;
        for (int i = 0; i < bytes; i++)
        {
            int src = imm4 + i;
            res.Set(i, 0, src < bytes ? vn.Byte(src) : vm.Byte(src - bytes));
        }

        SetV(rd, res, q);
        return Flow.Next;
    }

    [A64Handler(A64Op.SimdTableLookup)]
    private Flow AdvSimdTableLookup(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0, tbx = ((insn >> 12) & 1) != 0;
        int len = (int)(insn >> 13) & 3;
        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (((insn >> 22) & 3) != 0)
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec indices = GetV(rm), res = GetV(rd);
        int bytes = q ? 16 : 8;
        int tableBytes = 16 * (len + 1);
        for (int i = 0; i < bytes; i++)
        {
            int index = indices.Byte(i);
            if (index < tableBytes)
            {
                Vec t = GetV((rn + (index >> 4)) & 31);
                res.Set(i, 0, t.Byte(index & 15));
            }
            else if (!tbx)
            {
                res.Set(i, 0, 0);
            }
        }

        SetV(rd, res, q);
        return Flow.Next;
    }

    /// <summary>DUP (element), vector form.</summary>
    [A64Handler(A64Op.SimdDupElement)]
    private Flow AdvSimdDupElement(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0;
        uint imm5 = (insn >> 16) & 31;
        int size = ElementSize(imm5);
        if (size < 0 || size > 3 || (size == 3 && !q))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        ulong value = GetV((int)(insn >> 5) & 31).Get((int)(imm5 >> (size + 1)), size);
        Vec res = default;
        int elements = (q ? 16 : 8) >> size;
        for (int i = 0; i < elements; i++)
        {
            res.Set(i, size, value);
        }

        SetV((int)insn & 31, res, q);
        return Flow.Next;
    }

    /// <summary>DUP (element), scalar form (the MOV scalar alias).</summary>
    [A64Handler(A64Op.SimdScalarDupElement)]
    private Flow AdvSimdScalarDupElement(uint insn)
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

        ulong value = GetV((int)(insn >> 5) & 31).Get((int)(imm5 >> (size + 1)), size);
        SetVector((int)insn & 31, value, 0);
        return Flow.Next;
    }

    /// <summary>SMOV: a sign-extended element to a general register.</summary>
    [A64Handler(A64Op.SimdSmov)]
    private Flow AdvSimdSmov(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0;
        uint imm5 = (insn >> 16) & 31;
        int size = ElementSize(imm5);
        if (size < 0 || size > 2 || (size == 2 && !q))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        long value = GetV((int)(insn >> 5) & 31).GetSigned((int)(imm5 >> (size + 1)), size);
        SetReg((int)insn & 31, (ulong)value, q);
        return Flow.Next;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// C4.1.88 Advanced SIMD load/store multiple structures (LD1-LD4, ST1-ST4) and single structure
/// (one lane, and LD1R-LD4R replicate), with and without post-index. Loads gather into a copy of the
/// registers and commit only when every element was read, so a fault leaves the registers unchanged.
/// A stage-2 abort from these forms carries no valid syndrome (ISV = 0), as on hardware.
/// </summary>
public sealed partial class Arm64Cpu
{
    [A64Handler(A64Op.SimdLdStMultiple)]
    private Flow AdvSimdLoadStoreMultiple(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0, load = ((insn >> 22) & 1) != 0, post = ((insn >> 23) & 1) != 0;
        int opcode = (int)(insn >> 12) & 15, size = (int)(insn >> 10) & 3;
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (!post && rm != 0)
        {
            return Undefined();
        }

        (int regs, int selem) = opcode switch
        {
            0 => (4, 4),
            2 => (4, 1),
            4 => (3, 3),
            6 => (3, 1),
            7 => (1, 1),
            8 => (2, 2),
            10 => (2, 1),
            _ => (0, 0),
        };
        if (regs == 0 || (size == 3 && !q && selem != 1))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        int esize = 1 << size;
        int elements = (q ? 16 : 8) >> size;
        int rpt = regs / selem;
        Span<Vec> values = stackalloc Vec[4];
        for (int r = 0; r < regs; r++)
        {
            values[r] = load ? default : GetV((rt + r) & 31);
        }

        ulong offset = 0;
        for (int r = 0; r < rpt; r++)
        {
            for (int e = 0; e < elements; e++)
            {
                for (int s = 0; s < selem; s++)
                {
                    int reg = r + s;
                    ulong a = address + offset;
                    if (load)
                    {
                        if (!Read(a, esize, out ulong v, 0))
                        {
                            return FaultFlow;
                        }

                        values[reg].Set(e, size, v);
                    }
                    else if (!Write(a, esize, values[reg].Get(e, size), 0))
                    {
                        return FaultFlow;
                    }

                    offset += (ulong)esize;
                }
            }
        }

        if (load)
        {
            for (int r = 0; r < regs; r++)
            {
                SetV((rt + r) & 31, values[r], q);
            }
        }

        if (post)
        {
            SetXOrSp(rn, address + (rm == 31 ? offset : X(rm)));
        }

        return Flow.Next;
    }

    [A64Handler(A64Op.SimdLdStSingle)]
    private Flow AdvSimdLoadStoreSingle(uint insn)
    {
        bool q = ((insn >> 30) & 1) != 0, load = ((insn >> 22) & 1) != 0, post = ((insn >> 23) & 1) != 0;
        bool r = ((insn >> 21) & 1) != 0, s = ((insn >> 12) & 1) != 0;
        int opcode = (int)(insn >> 13) & 7, size = (int)(insn >> 10) & 3;
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        if (!post && rm != 0)
        {
            return Undefined();
        }

        int selem = (((opcode & 1) << 1) | (r ? 1 : 0)) + 1;
        int scale = opcode >> 1;
        bool replicate = false;
        int index;
        switch (scale)
        {
            case 0:
                index = (int)((q ? 8u : 0u) | (s ? 4u : 0u) | (uint)size);
                break;
            case 1:
                if ((size & 1) != 0)
                {
                    return Undefined();
                }

                index = (int)((q ? 4u : 0u) | (s ? 2u : 0u) | ((uint)size >> 1));
                break;
            case 2:
                if ((size & 2) != 0 || (size == 1 && s))
                {
                    return Undefined();
                }

                if (size == 1)
                {
                    scale = 3;
                    index = q ? 1 : 0;
                }
                else
                {
                    index = (int)((q ? 2u : 0u) | (s ? 1u : 0u));
                }

                break;
            default:
                if (!load || s)
                {
                    return Undefined();
                }

                scale = size;
                replicate = true;
                index = 0;
                break;
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        int esize = 1 << scale;
        ulong offset = 0;
        Span<Vec> values = stackalloc Vec[4];
        for (int e = 0; e < selem; e++)
        {
            values[e] = GetV((rt + e) & 31);
        }

        for (int e = 0; e < selem; e++)
        {
            ulong a = address + offset;
            if (replicate)
            {
                if (!Read(a, esize, out ulong v, 0))
                {
                    return FaultFlow;
                }

                Vec rep = default;
                int count = (q ? 16 : 8) >> scale;
                for (int i = 0; i < count; i++)
                {
                    rep.Set(i, scale, v);
                }

                values[e] = rep;
            }
            else if (load)
            {
                if (!Read(a, esize, out ulong v, 0))
                {
                    return FaultFlow;
                }

                values[e].Set(index, scale, v);
            }
            else if (!Write(a, esize, values[e].Get(index, scale), 0))
            {
                return FaultFlow;
            }

            offset += (ulong)esize;
        }

        if (load)
        {
            for (int e = 0; e < selem; e++)
            {
                if (replicate)
                {
                    SetV((rt + e) & 31, values[e], q);
                }
                else
                {
                    SetV((rt + e) & 31, values[e], true);
                }
            }
        }

        if (post)
        {
            SetXOrSp(rn, address + (rm == 31 ? offset : X(rm)));
        }

        return Flow.Next;
    }
}

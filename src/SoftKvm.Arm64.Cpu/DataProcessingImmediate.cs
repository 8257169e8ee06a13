using System.Runtime.CompilerServices;
using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>C4.1.86 Data processing -- immediate: PC-relative addressing, add/subtract, logical, move wide, bitfield, extract.</summary>
public sealed partial class Arm64Cpu
{
    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Adr)]
    private Flow Adr(uint insn)
    {
        long imm = ((long)((int)(insn >> 5) << 13) >> 11) | ((insn >> 29) & 3);
        SetX((int)(insn & 31), State.Pc + (ulong)imm);
        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Adrp)]
    private Flow Adrp(uint insn)
    {
        long imm = ((long)((int)(insn >> 5) << 13) >> 11) | ((insn >> 29) & 3);
        SetX((int)(insn & 31), (State.Pc & ~0xFFFUL) + (ulong)(imm << 12));
        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.AddImm, A64Op.AddsImm, A64Op.SubImm, A64Op.SubsImm)]
    private Flow AddSubImmediate(uint insn)
    {
        bool sf = (insn >> 31) != 0, sub = ((insn >> 30) & 1) != 0, setFlags = ((insn >> 29) & 1) != 0;
        uint sh = (insn >> 22) & 3;
        if (sh > 1)
        {
            return Undefined();
        }

        ulong imm = ((insn >> 10) & 0xFFF) << (int)(sh * 12);
        int rn = (int)(insn >> 5) & 31, rd = (int)insn & 31;
        ulong x = XOrSp(rn);
        ulong result = AddWithCarry(x, sub ? ~imm : imm, sub ? 1UL : 0, sf, out uint nzcv);
        if (setFlags)
        {
            State.Nzcv = nzcv;
            SetReg(rd, result, sf);
        }
        else
        {
            SetXOrSp(rd, sf ? result : (uint)result);
        }

        return Flow.Next;
    }

    /// <summary>DecodeBitMasks (Arm ARM shared pseudocode); false for a reserved encoding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool DecodeBitMasks(uint n, uint imms, uint immr, bool immediate, int dataSize, out ulong wmask, out ulong tmask)
    {
        wmask = tmask = 0;
        uint combined = (n << 6) | (~imms & 0x3F);
        if (combined == 0)
        {
            return false;
        }

        int len = 31 - BitOperations.LeadingZeroCount(combined);
        if (len < 1 || (1 << len) > dataSize)
        {
            return false;
        }

        uint levels = (1u << len) - 1;
        if (immediate && (imms & levels) == levels)
        {
            return false;
        }

        int s = (int)(imms & levels);
        int r = (int)(immr & levels);
        int d = (s - r) & (int)levels;
        int esize = 1 << len;
        ulong emask = esize == 64 ? ulong.MaxValue : (1UL << esize) - 1;
        ulong welem = s + 1 == 64 ? ulong.MaxValue : (1UL << (s + 1)) - 1;
        ulong telem = d + 1 == 64 ? ulong.MaxValue : (1UL << (d + 1)) - 1;
        ulong wrot = r == 0 ? welem : ((welem >> r) | (welem << (esize - r))) & emask;

        // Replicate(element, 64 / esize) as one multiply by 0x..0101 (a 1 every esize bits): loop-free,
        // so with a constant instruction word the JIT folds the whole decode.
        ulong ones = ulong.MaxValue / emask;
        wmask = wrot * ones;
        tmask = telem * ones;

        if (dataSize == 32)
        {
            wmask &= 0xFFFF_FFFF;
            tmask &= 0xFFFF_FFFF;
        }

        return true;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.AndImm, A64Op.OrrImm, A64Op.EorImm, A64Op.AndsImm)]
    private Flow LogicalImmediate(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        uint opc = (insn >> 29) & 3, n = (insn >> 22) & 1;
        if (!sf && n != 0)
        {
            return Undefined();
        }

        if (!DecodeBitMasks(n, (insn >> 10) & 0x3F, (insn >> 16) & 0x3F, true, sf ? 64 : 32, out ulong imm, out _))
        {
            return Undefined();
        }

        int rn = (int)(insn >> 5) & 31, rd = (int)insn & 31;
        ulong x = X(rn);
        ulong result = opc switch
        {
            0 => x & imm,
            1 => x | imm,
            2 => x ^ imm,
            _ => x & imm,
        };
        if (!sf)
        {
            result = (uint)result;
        }

        if (opc == 3)
        {
            State.Nzcv = LogicFlags(result, sf);
            SetX(rd, result);
        }
        else
        {
            SetXOrSp(rd, result);
        }

        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Movn, A64Op.Movz, A64Op.Movk)]
    private Flow MoveWide(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        int hw = (int)(insn >> 21) & 3;
        if (!sf && hw > 1)
        {
            return Undefined();
        }

        int shift = hw * 16;
        ulong imm = (ulong)((insn >> 5) & 0xFFFF) << shift;
        int rd = (int)insn & 31;
        ulong result = op switch
        {
            A64Op.Movn => ~imm,
            A64Op.Movz => imm,
            _ => (X(rd) & ~(0xFFFFUL << shift)) | imm,
        };
        SetReg(rd, result, sf);
        return Flow.Next;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Sbfm, A64Op.Bfm, A64Op.Ubfm)]
    private Flow Bitfield(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        uint n = (insn >> 22) & 1, immr = (insn >> 16) & 0x3F, imms = (insn >> 10) & 0x3F;
        if ((sf ? 1u : 0u) != n || (!sf && (immr > 31 || imms > 31)))
        {
            return Undefined();
        }

        int size = sf ? 64 : 32;
        if (!DecodeBitMasks(n, imms, immr, false, size, out ulong wmask, out ulong tmask))
        {
            return Undefined();
        }

        int rn = (int)(insn >> 5) & 31, rd = (int)insn & 31;
        ulong src = X(rn);
        ulong dst = X(rd);
        ulong rotated = Ror(src, (int)immr, size);
        ulong result;
        if (op == A64Op.Bfm)
        {
            ulong bot = (dst & ~wmask) | (rotated & wmask);
            result = (dst & ~tmask) | (bot & tmask);
        }
        else if (op == A64Op.Ubfm)
        {
            result = rotated & wmask & tmask;
        }
        else
        {
            ulong bot = rotated & wmask;
            ulong top = ((src >> (int)imms) & 1) != 0 ? ulong.MaxValue : 0;
            result = (top & ~tmask) | (bot & tmask);
        }

        SetReg(rd, result, sf);
        return Flow.Next;
    }

    private static ulong Ror(ulong value, int amount, int size)
    {
        if (size == 32)
        {
            return BitOperations.RotateRight((uint)value, amount);
        }

        return BitOperations.RotateRight(value, amount);
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Extr)]
    private Flow Extract(uint insn)
    {
        bool sf = (insn >> 31) != 0;
        uint n = (insn >> 22) & 1;
        int lsb = (int)(insn >> 10) & 0x3F;
        if ((sf ? 1u : 0u) != n || (!sf && lsb > 31))
        {
            return Undefined();
        }

        int rm = (int)(insn >> 16) & 31, rn = (int)(insn >> 5) & 31, rd = (int)insn & 31;
        ulong result;
        if (sf)
        {
            result = lsb == 0 ? X(rm) : (X(rm) >> lsb) | (X(rn) << (64 - lsb));
        }
        else
        {
            ulong concat = ((ulong)(uint)X(rn) << 32) | (uint)X(rm);
            result = (uint)(concat >> lsb);
        }

        SetReg(rd, result, sf);
        return Flow.Next;
    }
}

using System.Numerics;
using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>BT, BTS, BTR, BTC, BSF, BSR, TZCNT, LZCNT, POPCNT. For BT* with a register offset and a
/// memory operand the bit offset addresses memory beyond the operand, as the SDM defines.
/// Undefined flags: BT* leave OF/SF/AF/PF unchanged, BSF/BSR compute only ZF (others cleared) and leave
/// the destination unchanged for a zero source (documented by AMD, done by Intel hardware).</summary>
internal static class BitOps
{
    public static void Bt(X86Cpu c, ref Instruction i) => BitTest(c, ref i, 0);

    public static void Bts(X86Cpu c, ref Instruction i) => BitTest(c, ref i, 1);

    public static void Btr(X86Cpu c, ref Instruction i) => BitTest(c, ref i, 2);

    public static void Btc(X86Cpu c, ref Instruction i) => BitTest(c, ref i, 3);

    private static void BitTest(X86Cpu c, ref Instruction i, int op)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        int bits = size * 8;
        ulong offset;
        bool regOffset = i.Op1Kind == OpKind.Register;
        offset = regOffset ? c.GetReg(i.Op1Register) : i.Immediate8;
        ulong v;
        int seg = 0;
        ulong ea = 0;
        int bit;
        if (i.Op0Kind == OpKind.Memory)
        {
            seg = X86Cpu.MemorySegment(ref i);
            ea = c.EffectiveAddress(ref i);
            if (regOffset)
            {
                long signed = (long)Alu.SignExtend(offset, size);
                ea += (ulong)((signed >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * size);
                if (c.Bitness != 64)
                {
                    ea &= 0xFFFFFFFF;
                }

                bit = (int)(offset & (ulong)(bits - 1));
            }
            else
            {
                bit = (int)(offset & (ulong)(bits - 1));
            }

            if (op != 0 && i.HasLockPrefix)
            {
                unsafe
                {
                    if (!c.LockedTargetAt(seg, ea, size, out byte* p))
                    {
                        return;
                    }

                    if (p != null)
                    {
                        ulong bitMask = 1UL << bit;
                        ulong old, nv;
                        do
                        {
                            old = X86Cpu.AtomicLoad(p, size);
                            nv = op switch { 1 => old | bitMask, 2 => old & ~bitMask, _ => old ^ bitMask };
                        }
                        while (X86Cpu.CompareExchange(p, size, nv, old) != old);
                        c.SetFlags(Rflags.CF, (old & bitMask) != 0 ? Rflags.CF : 0);
                        return;
                    }
                }
            }

            if (!c.Read(seg, ea, size, out v))
            {
                return;
            }
        }
        else
        {
            v = c.GetReg(i.Op0Register);
            bit = (int)(offset & (ulong)(bits - 1));
        }

        ulong mask = 1UL << bit;
        bool set = (v & mask) != 0;
        if (op != 0)
        {
            ulong r = op switch { 1 => v | mask, 2 => v & ~mask, _ => v ^ mask };
            if (i.Op0Kind == OpKind.Memory)
            {
                if (!c.Write(seg, ea, size, r))
                {
                    return;
                }
            }
            else
            {
                c.SetReg(i.Op0Register, r);
            }
        }

        c.SetFlags(Rflags.CF, set ? Rflags.CF : 0);
    }

    public static void Bsf(X86Cpu c, ref Instruction i) => Scan(c, ref i, false);

    public static void Bsr(X86Cpu c, ref Instruction i) => Scan(c, ref i, true);

    private static void Scan(X86Cpu c, ref Instruction i, bool reverse)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (!c.ReadOp(ref i, 1, size, out ulong v))
        {
            return;
        }

        if (v == 0)
        {
            c.SetStatus(Rflags.ZF | (c.Regs.Rflags & 0));
            return;
        }

        int r = reverse ? 63 - BitOperations.LeadingZeroCount(v) : BitOperations.TrailingZeroCount(v);
        c.SetReg(i.Op0Register, (ulong)r);
        c.SetStatus(Alu.Parity((ulong)r) & 0);
    }

    public static void Tzcnt(X86Cpu c, ref Instruction i) => Count(c, ref i, 0);

    public static void Lzcnt(X86Cpu c, ref Instruction i) => Count(c, ref i, 1);

    public static void Popcnt(X86Cpu c, ref Instruction i) => Count(c, ref i, 2);

    private static void Count(X86Cpu c, ref Instruction i, int op)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        int bits = size * 8;
        if (!c.ReadOp(ref i, 1, size, out ulong v))
        {
            return;
        }

        ulong r = op switch
        {
            0 => v == 0 ? (ulong)bits : (ulong)BitOperations.TrailingZeroCount(v),
            1 => (ulong)(BitOperations.LeadingZeroCount(v) - (64 - bits)),
            _ => (ulong)BitOperations.PopCount(v),
        };
        c.SetReg(i.Op0Register, r);
        ulong flags = r == 0 ? Rflags.ZF : 0;
        if (op != 2 && r == (ulong)bits)
        {
            flags |= Rflags.CF;
        }

        if (op == 2)
        {
            c.SetStatus(flags);
        }
        else
        {
            c.SetFlags(Rflags.ZF | Rflags.CF, flags);
        }
    }
}

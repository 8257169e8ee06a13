using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD. Flags as the SDM defines them; where the SDM
/// leaves a flag undefined (OF for counts other than 1, AF) the model uses the 1-bit formula for OF
/// and clears AF, which is what QEMU does; the differential tests mask these flags.
/// </summary>
internal static class ShiftRotate
{
    private const ulong CF = Rflags.CF, OF = Rflags.OF, AF = Rflags.AF;

    /// <summary>A masked count of 0 changes no flags, but a 32-bit register destination is still written (zero-extended).</summary>
    private static void CountZero(X86Cpu c, ref Instruction i, int size, ulong a)
    {
        if (size == 4 && i.Op0Kind == OpKind.Register)
        {
            c.SetReg(i.Op0Register, a);
        }
    }

    /// <summary>A shift or rotate count as the processor uses it: 6 bits for 64-bit operands, else 5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int MaskedCount(ulong n, int size) => (int)(n & (size == 8 ? 0x3FUL : 0x1FUL));

    /// <summary>
    /// Reads the destination and the masked count of a one-operand shift or rotate; false when the
    /// instruction is done: a fault, or a count of 0 (<see cref="CountZero"/>).
    /// </summary>
    private static bool Operands(X86Cpu c, ref Instruction i, out int size, out ulong a, out int count)
    {
        size = X86Cpu.OpSize(ref i, 0);
        count = 0;
        if (!c.ReadOpRmw(ref i, 0, size, out a))
        {
            return false;
        }

        ulong n;
        if (i.OpCount < 2)
        {
            n = 1;
        }
        else
        {
            var k = i.GetOpKind(1);
            n = k == OpKind.Register ? c.GetReg(i.GetOpRegister(1)) : i.GetImmediate(1);
        }

        count = MaskedCount(n, size);
        if (count == 0)
        {
            CountZero(c, ref i, size, a);
            return false;
        }

        return true;
    }

    /// <summary>Writes the result, then (if the write did not fault) the flags in <paramref name="written"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Complete(X86Cpu c, ref Instruction i, int size, ulong r, ulong written, ulong flags)
    {
        if (c.WriteOp(ref i, 0, size, r))
        {
            c.SetFlags(written, flags);
        }
    }

    public static void Shl(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            Complete(c, ref i, size, ShlCore(a, n, size, out ulong flags), Rflags.Status, flags);
        }
    }

    public static void Shr(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            Complete(c, ref i, size, ShrCore(a, n, size, out ulong flags), Rflags.Status, flags);
        }
    }

    public static void Sar(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            Complete(c, ref i, size, SarCore(a, n, size, out ulong flags), Rflags.Status, flags);
        }
    }

    public static void Rol(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            int bits = size * 8, k = n % bits;
            ulong r = k == 0 ? a : ((a << k) | (a >> (bits - k))) & Alu.Mask(size);
            Complete(c, ref i, size, r, CF | OF, LeftRotateFlags(r, r & 1, size));
        }
    }

    public static void Ror(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            int bits = size * 8, k = n % bits;
            ulong r = k == 0 ? a : ((a >> k) | (a << (bits - k))) & Alu.Mask(size);
            Complete(c, ref i, size, r, CF | OF, RightRotateFlags(r, Alu.Msb(r, size), size));
        }
    }

    public static void Rcl(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            ulong r = RotateThroughCarry(a, n, size, c.Regs.Rflags & CF, left: true, out ulong cf);
            Complete(c, ref i, size, r, CF | OF, LeftRotateFlags(r, cf, size));
        }
    }

    public static void Rcr(X86Cpu c, ref Instruction i)
    {
        if (Operands(c, ref i, out int size, out ulong a, out int n))
        {
            ulong r = RotateThroughCarry(a, n, size, c.Regs.Rflags & CF, left: false, out ulong cf);
            Complete(c, ref i, size, r, CF | OF, RightRotateFlags(r, cf, size));
        }
    }

    /// <summary>CF, and OF = MSB(result) XOR CF (ROL, RCL).</summary>
    private static ulong LeftRotateFlags(ulong r, ulong cf, int size) => (cf != 0 ? CF : 0) | ((Alu.Msb(r, size) ^ cf) != 0 ? OF : 0);

    /// <summary>CF, and OF = the XOR of the result's two most significant bits (ROR, RCR).</summary>
    private static ulong RightRotateFlags(ulong r, ulong cf, int size) =>
        (cf != 0 ? CF : 0) | ((Alu.Msb(r, size) ^ ((r >> (size * 8 - 2)) & 1)) != 0 ? OF : 0);

    /// <summary>RCL/RCR: the (size * 8 + 1)-bit rotation of CF:a (16- and 8-bit counts taken modulo 17 and 9).</summary>
    private static ulong RotateThroughCarry(ulong a, int n, int size, ulong carryIn, bool left, out ulong cf)
    {
        int bits = size * 8;
        int k = size < 4 ? n % (bits + 1) : n;
        UInt128 v = ((UInt128)carryIn << bits) | a;
        UInt128 all = (UInt128.One << (bits + 1)) - 1;
        if (k != 0)
        {
            v = (left ? (v << k) | (v >> (bits + 1 - k)) : (v >> k) | (v << (bits + 1 - k))) & all;
        }

        cf = (ulong)(v >> bits) & 1;
        return (ulong)(v & Alu.Mask(size));
    }

    /// <summary>SHL of <paramref name="a"/> by a masked count <paramref name="n"/> other than 0: result and status flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ShlCore(ulong a, int n, int size, out ulong flags, ulong need = Rflags.Status)
    {
        int bits = size * 8;
        ulong r = n >= bits ? 0 : (a << n) & Alu.Mask(size);
        ulong cf = n > bits ? 0 : (a >> (bits - n)) & 1;
        flags = Alu.Szp(r, size, need) | ((need & CF) != 0 && cf != 0 ? CF : 0) | ((need & OF) != 0 && (Alu.Msb(r, size) ^ cf) != 0 ? OF : 0);
        return r;
    }

    /// <summary>SHR, as <see cref="ShlCore"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ShrCore(ulong a, int n, int size, out ulong flags, ulong need = Rflags.Status)
    {
        ulong r = n >= 64 ? 0 : a >> n;
        ulong cf = n > 64 ? 0 : (a >> (n - 1)) & 1;
        flags = Alu.Szp(r, size, need) | ((need & CF) != 0 && cf != 0 ? CF : 0) | ((need & OF) != 0 && Alu.Msb(a, size) != 0 ? OF : 0);
        return r;
    }

    /// <summary>SAR, as <see cref="ShlCore"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SarCore(ulong a, int n, int size, out ulong flags, ulong need = Rflags.Status)
    {
        long s = (long)Alu.SignExtend(a, size);
        ulong r = (ulong)(s >> Math.Min(n, 63)) & Alu.Mask(size);
        ulong cf = (ulong)(s >> Math.Min(n - 1, 63)) & 1;
        flags = Alu.Szp(r, size, need) | ((need & CF) != 0 && cf != 0 ? CF : 0);
        return r;
    }

    public static void Shld(X86Cpu c, ref Instruction i) => DoubleShift(c, ref i, true);

    public static void Shrd(X86Cpu c, ref Instruction i) => DoubleShift(c, ref i, false);

    private static void DoubleShift(X86Cpu c, ref Instruction i, bool left)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (!c.ReadOpRmw(ref i, 0, size, out ulong a) || !c.ReadOp(ref i, 1, size, out ulong b))
        {
            return;
        }

        ulong cnt = i.GetOpKind(2) == OpKind.Register ? c.GetReg(i.GetOpRegister(2)) : i.GetImmediate(2);
        int n = MaskedCount(cnt, size);
        if (n == 0)
        {
            CountZero(c, ref i, size, a);
            return;
        }

        Complete(c, ref i, size, DoubleShiftCore(a, b, n, size, left, out ulong flags), Rflags.Status, flags);
    }

    /// <summary>SHLD (<paramref name="left"/>) or SHRD of <paramref name="a"/> with bits from <paramref name="b"/> by a masked count other than 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong DoubleShiftCore(ulong a, ulong b, int n, int size, bool left, out ulong flags, ulong need = Rflags.Status)
    {
        int bits = size * 8;
        ulong m = Alu.Mask(size);
        ulong r, cf;
        if (size == 2)
        {
            // For 16-bit counts above 16 the result is undefined; the model shifts the 48-bit
            // concatenation (as Intel hardware does).
            UInt128 v = left ? ((UInt128)a << 32) | ((UInt128)b << 16) | b : ((UInt128)b << 32) | ((UInt128)b << 16) | a;
            if (left)
            {
                r = (ulong)((v << n) >> 32) & m;
                cf = (ulong)((v << (n - 1)) >> 47) & 1;
            }
            else
            {
                r = (ulong)(v >> n) & m;
                cf = (ulong)(v >> (n - 1)) & 1;
            }
        }
        else if (left)
        {
            r = ((a << n) | (b >> (bits - n))) & m;
            cf = (a >> (bits - n)) & 1;
        }
        else
        {
            r = ((a >> n) | (b << (bits - n))) & m;
            cf = (a >> (n - 1)) & 1;
        }

        flags = Alu.Szp(r, size, need) | ((need & CF) != 0 && cf != 0 ? CF : 0) | ((need & OF) != 0 && (Alu.Msb(r, size) ^ Alu.Msb(a, size)) != 0 ? OF : 0);
        return r;
    }
}

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
        return true;
    }

    private enum Operation
    {
        Shl,
        Shr,
        Sar,
        Rol,
        Ror,
        Rcl,
        Rcr,
    }

    public static void Shl(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Shl);

    public static void Shr(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Shr);

    public static void Sar(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Sar);

    public static void Rol(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Rol);

    public static void Ror(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Ror);

    public static void Rcl(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Rcl);

    public static void Rcr(X86Cpu c, ref Instruction i) => ShiftOrRotate(c, ref i, Operation.Rcr);

    /// <summary>
    /// Every one-operand shift and rotate: read the destination and the count, leave a masked count of 0
    /// alone (<see cref="CountZero"/>), else write the result, then the status flags (shifts) or CF and OF
    /// (rotates).
    /// </summary>
    private static void ShiftOrRotate(X86Cpu c, ref Instruction i, Operation op)
    {
        if (!Operands(c, ref i, out int size, out ulong a, out int n))
        {
            return;
        }

        if (n == 0)
        {
            CountZero(c, ref i, size, a);
            return;
        }

        ulong flags;
        ulong r = op switch
        {
            Operation.Shl => ShlCore(a, n, size, out flags),
            Operation.Shr => ShrCore(a, n, size, out flags),
            Operation.Sar => SarCore(a, n, size, out flags),
            _ => Rotate(op, a, n, size, c.Regs.Rflags & CF, out flags),
        };
        if (c.WriteOp(ref i, 0, size, r))
        {
            c.SetFlags(op <= Operation.Sar ? Rflags.Status : CF | OF, flags);
        }
    }

    /// <summary>
    /// ROL, ROR, RCL, RCR of <paramref name="a"/> by a masked count other than 0: the result, CF (the bit
    /// rotated out, into CF), and OF (left: MSB XOR CF; right: the XOR of the two most significant bits).
    /// </summary>
    private static ulong Rotate(Operation op, ulong a, int n, int size, ulong carryIn, out ulong flags)
    {
        int bits = size * 8;
        bool left = op is Operation.Rol or Operation.Rcl;
        ulong r, cf;
        if (op is Operation.Rol or Operation.Ror)
        {
            int k = n % bits;
            r = k == 0 ? a : (left ? (a << k) | (a >> (bits - k)) : (a >> k) | (a << (bits - k))) & Alu.Mask(size);
            cf = left ? r & 1 : Alu.Msb(r, size);
        }
        else
        {
            r = RotateThroughCarry(a, n, size, carryIn, left, out cf);
        }

        ulong of = left ? Alu.Msb(r, size) ^ cf : Alu.Msb(r, size) ^ ((r >> (bits - 2)) & 1);
        flags = (cf != 0 ? CF : 0) | (of != 0 ? OF : 0);
        return r;
    }

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

        ulong r = DoubleShiftCore(a, b, n, size, left, out ulong flags);
        if (c.WriteOp(ref i, 0, size, r))
        {
            c.SetStatus(flags);
        }
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

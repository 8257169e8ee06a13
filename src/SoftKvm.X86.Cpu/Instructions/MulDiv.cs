using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// MUL, IMUL (one, two and three operands), DIV, IDIV. CF/OF as the SDM defines; SF, ZF and PF
/// (undefined) follow the low half of the result and AF is cleared; DIV/IDIV leave the flags
/// unchanged (undefined). #DE on division by zero and on quotient overflow, committing nothing.
/// </summary>
internal static class MulDiv
{
    private const ulong CF = Rflags.CF, OF = Rflags.OF;

    private static void WriteWide(X86Cpu c, int size, ulong lo, ulong hi) =>
        WriteWide(ref c.Regs.Gpr[Gpr.Rax], ref c.Regs.Gpr[Gpr.Rdx], size, lo, hi);

    /// <summary>The two halves of a MUL/IMUL product or a DIV/IDIV quotient and remainder: AL and AH for bytes, else
    /// the accumulator and RDX with the operand size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteWide(ref ulong rax, ref ulong rdx, int size, ulong lo, ulong hi)
    {
        if (size == 1)
        {
            X86Cpu.WritePart(ref rax, 2, false, (lo & 0xFF) | ((hi & 0xFF) << 8));
            return;
        }

        X86Cpu.WritePart(ref rax, size, false, lo);
        X86Cpu.WritePart(ref rdx, size, false, hi);
    }

    public static void Mul(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (!c.ReadOp(ref i, 0, size, out ulong b))
        {
            return;
        }

        ulong lo = MulCore(c.GetGpr(Gpr.Rax, size), b, size, out ulong hi, out ulong flags);
        WriteWide(c, size, lo, hi);
        c.SetStatus(flags);
    }

    /// <summary>MUL: the low and high halves of <paramref name="a"/> * <paramref name="b"/> and the status flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong MulCore(ulong a, ulong b, int size, out ulong hi, out ulong flags, ulong need = Rflags.Status)
    {
        ulong lo;
        if (size == 8)
        {
            hi = Math.BigMul(a, b, out lo);
        }
        else
        {
            ulong p = a * b;
            lo = p & Alu.Mask(size);
            hi = p >> (size * 8);
        }

        flags = Alu.Szp(lo, size, need) | (hi != 0 ? (CF | OF) & need : 0);
        return lo;
    }

    /// <summary>The two- and three-operand IMUL: the truncated signed product and the status flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ImulCore(ulong x, ulong y, int sz, out ulong flags, ulong need = Rflags.Status)
    {
        long sa = (long)Alu.SignExtend(x, sz);
        long sb = (long)Alu.SignExtend(y & Alu.Mask(sz), sz);
        ulong r;
        bool ovf;
        if (sz == 8)
        {
            Int128 p = (Int128)sa * sb;
            r = (ulong)p;
            ovf = p != (long)r;
        }
        else
        {
            long p = sa * sb;
            r = (ulong)p & Alu.Mask(sz);
            ovf = p != (long)Alu.SignExtend(r, sz);
        }

        flags = Alu.Szp(r, sz, need) | (ovf ? (CF | OF) & need : 0);
        return r;
    }

    public static void Imul(X86Cpu c, ref Instruction i)
    {
        if (i.OpCount == 1)
        {
            int size = X86Cpu.OpSize(ref i, 0);
            if (!c.ReadOp(ref i, 0, size, out ulong bu))
            {
                return;
            }

            long a = (long)Alu.SignExtend(c.GetGpr(Gpr.Rax, size), size);
            long b = (long)Alu.SignExtend(bu, size);
            ulong lo, hi;
            bool overflow;
            if (size == 8)
            {
                Int128 p = (Int128)a * b;
                lo = (ulong)p;
                hi = (ulong)(p >> 64);
                overflow = p != (long)lo;
            }
            else
            {
                long p = a * b;
                lo = (ulong)p & Alu.Mask(size);
                hi = ((ulong)p >> (size * 8)) & Alu.Mask(size);
                overflow = p != (long)Alu.SignExtend(lo, size);
            }

            WriteWide(c, size, lo, hi);
            c.SetStatus(Alu.Szp(lo, size) | (overflow ? CF | OF : 0));
            return;
        }

        int sz = X86Cpu.OpSize(ref i, 0);
        ulong x, y;
        if (i.OpCount == 3)
        {
            if (!c.ReadOp(ref i, 1, sz, out x))
            {
                return;
            }

            y = i.GetImmediate(2);
        }
        else
        {
            x = c.GetReg(i.Op0Register);
            if (!c.ReadOp(ref i, 1, sz, out y))
            {
                return;
            }
        }

        ulong r = ImulCore(x, y, sz, out ulong flags);
        c.SetReg(i.Op0Register, r);
        c.SetStatus(flags);
    }

    /// <summary>The divisor of DIV/IDIV; false when the instruction is done (a fault reading it, or #DE for 0).</summary>
    private static bool Divisor(X86Cpu c, ref Instruction i, out int size, out ulong d)
    {
        size = X86Cpu.OpSize(ref i, 0);
        if (!c.ReadOp(ref i, 0, size, out d))
        {
            return false;
        }

        if (d == 0)
        {
            c.Fault(ExceptionVector.DE);
            return false;
        }

        return true;
    }

    public static void Div(X86Cpu c, ref Instruction i)
    {
        if (!Divisor(c, ref i, out int size, out ulong d))
        {
            return;
        }

        ulong q, rem;
        if (size == 8)
        {
            UInt128 n = ((UInt128)c.Regs.Gpr[Gpr.Rdx] << 64) | c.Regs.Gpr[Gpr.Rax];
            UInt128 qq = n / d;
            if (qq > ulong.MaxValue)
            {
                c.Fault(ExceptionVector.DE);
                return;
            }

            q = (ulong)qq;
            rem = (ulong)(n % d);
        }
        else
        {
            ulong n = size == 1 ? c.GetGpr(Gpr.Rax, 2) : (c.GetGpr(Gpr.Rdx, size) << (size * 8)) | c.GetGpr(Gpr.Rax, size);
            q = n / d;
            rem = n % d;
            if (q > Alu.Mask(size))
            {
                c.Fault(ExceptionVector.DE);
                return;
            }
        }

        WriteWide(c, size, q, rem);
    }

    public static void Idiv(X86Cpu c, ref Instruction i)
    {
        if (!Divisor(c, ref i, out int size, out ulong du))
        {
            return;
        }

        long d = (long)Alu.SignExtend(du, size);
        ulong q, rem;
        if (size == 8)
        {
            Int128 n = (Int128)(((UInt128)c.Regs.Gpr[Gpr.Rdx] << 64) | c.Regs.Gpr[Gpr.Rax]);
            if (n == Int128.MinValue && d == -1)
            {
                c.Fault(ExceptionVector.DE);
                return;
            }

            Int128 qq = n / d;
            if (qq > long.MaxValue || qq < long.MinValue)
            {
                c.Fault(ExceptionVector.DE);
                return;
            }

            q = (ulong)(long)qq;
            rem = (ulong)(long)(n % d);
        }
        else
        {
            long n = size == 1
                ? (short)c.GetGpr(Gpr.Rax, 2)
                : (long)Alu.SignExtend((c.GetGpr(Gpr.Rdx, size) << (size * 8)) | c.GetGpr(Gpr.Rax, size), size * 2);
            long qq = n / d;
            long max = (long)(Alu.Mask(size) >> 1);
            if (qq > max || qq < -max - 1)
            {
                c.Fault(ExceptionVector.DE);
                return;
            }

            q = (ulong)qq & Alu.Mask(size);
            rem = (ulong)(n % d) & Alu.Mask(size);
        }

        WriteWide(c, size, q, rem);
    }
}

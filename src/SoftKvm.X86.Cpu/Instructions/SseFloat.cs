using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.SseFloatMath;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// SSE/SSE2 floating-point arithmetic, MIN/MAX, compares and COMIS/UCOMIS (the computation lives in
/// <see cref="SseFloatMath"/>). Packed forms read an XMM register or an aligned m128, scalar forms an
/// XMM register or m32/m64 and leave the upper elements of the destination unchanged. Exception flags
/// of all elements are collected first; an unmasked one faults without writing the destination.
/// </summary>
internal static unsafe class SseFloat
{
    public static void Addps(X86Cpu c, ref Instruction i) => Packed32(c, ref i, FpOp.Add);
    public static void Addss(X86Cpu c, ref Instruction i) => Scalar32(c, ref i, FpOp.Add);
    public static void Addpd(X86Cpu c, ref Instruction i) => Packed64(c, ref i, FpOp.Add);
    public static void Addsd(X86Cpu c, ref Instruction i) => Scalar64(c, ref i, FpOp.Add);
    public static void Subps(X86Cpu c, ref Instruction i) => Packed32(c, ref i, FpOp.Sub);
    public static void Subss(X86Cpu c, ref Instruction i) => Scalar32(c, ref i, FpOp.Sub);
    public static void Subpd(X86Cpu c, ref Instruction i) => Packed64(c, ref i, FpOp.Sub);
    public static void Subsd(X86Cpu c, ref Instruction i) => Scalar64(c, ref i, FpOp.Sub);
    public static void Mulps(X86Cpu c, ref Instruction i) => Packed32(c, ref i, FpOp.Mul);
    public static void Mulss(X86Cpu c, ref Instruction i) => Scalar32(c, ref i, FpOp.Mul);
    public static void Mulpd(X86Cpu c, ref Instruction i) => Packed64(c, ref i, FpOp.Mul);
    public static void Mulsd(X86Cpu c, ref Instruction i) => Scalar64(c, ref i, FpOp.Mul);
    public static void Divps(X86Cpu c, ref Instruction i) => Packed32(c, ref i, FpOp.Div);
    public static void Divss(X86Cpu c, ref Instruction i) => Scalar32(c, ref i, FpOp.Div);
    public static void Divpd(X86Cpu c, ref Instruction i) => Packed64(c, ref i, FpOp.Div);
    public static void Divsd(X86Cpu c, ref Instruction i) => Scalar64(c, ref i, FpOp.Div);
    public static void Sqrtps(X86Cpu c, ref Instruction i) => Packed32(c, ref i, FpOp.Sqrt);
    public static void Sqrtss(X86Cpu c, ref Instruction i) => Scalar32(c, ref i, FpOp.Sqrt);
    public static void Sqrtpd(X86Cpu c, ref Instruction i) => Packed64(c, ref i, FpOp.Sqrt);
    public static void Sqrtsd(X86Cpu c, ref Instruction i) => Scalar64(c, ref i, FpOp.Sqrt);

    private static void Packed32(X86Cpu c, ref Instruction i, FpOp op)
    {
        if (!c.SseAvailable() || !c.ReadXmmOperand(ref i, 1, true, out var b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        XmmRegister a = d, r;
        uint mx = c.Mxcsr, flags = 0;
        uint* x = (uint*)&a, y = (uint*)&b, z = (uint*)&r;
        for (int k = 0; k < 4; k++)
        {
            z[k] = Arith32(op, x[k], y[k], mx, ref flags);
        }

        if (c.SimdExceptions(flags))
        {
            d = r;
        }
    }

    private static void Packed64(X86Cpu c, ref Instruction i, FpOp op)
    {
        if (!c.SseAvailable() || !c.ReadXmmOperand(ref i, 1, true, out var b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        uint mx = c.Mxcsr, flags = 0;
        ulong lo = Arith64(op, d.Lo, b.Lo, mx, ref flags);
        ulong hi = Arith64(op, d.Hi, b.Hi, mx, ref flags);
        if (c.SimdExceptions(flags))
        {
            d = new XmmRegister(lo, hi);
        }
    }

    private static void Scalar32(X86Cpu c, ref Instruction i, FpOp op)
    {
        if (!c.SseAvailable() || !c.ReadScalarOperand(ref i, 1, 4, out ulong b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        uint flags = 0;
        uint v = Arith32(op, (uint)d.Lo, (uint)b, c.Mxcsr, ref flags);
        if (c.SimdExceptions(flags))
        {
            d.Lo = (d.Lo & 0xFFFFFFFF00000000UL) | v;
        }
    }

    private static void Scalar64(X86Cpu c, ref Instruction i, FpOp op)
    {
        if (!c.SseAvailable() || !c.ReadScalarOperand(ref i, 1, 8, out ulong b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        uint flags = 0;
        ulong v = Arith64(op, d.Lo, b, c.Mxcsr, ref flags);
        if (c.SimdExceptions(flags))
        {
            d.Lo = v;
        }
    }

    // ---- MIN / MAX ----

    /// <summary>MINPS/MAXPS/MINPD/MAXPD/MINSS/MAXSS/MINSD/MAXSD.</summary>
    public static void MinMax(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        var m = i.Mnemonic;
        bool max = m is Mnemonic.Maxps or Mnemonic.Maxpd or Mnemonic.Maxss or Mnemonic.Maxsd;
        bool scalar = m is Mnemonic.Minss or Mnemonic.Maxss or Mnemonic.Minsd or Mnemonic.Maxsd;
        bool dbl = m is Mnemonic.Minpd or Mnemonic.Maxpd or Mnemonic.Minsd or Mnemonic.Maxsd;
        XmmRegister b;
        if (scalar)
        {
            if (!c.ReadScalarOperand(ref i, 1, dbl ? 8 : 4, out ulong s))
            {
                return;
            }

            b = new XmmRegister(s, 0);
        }
        else if (!c.ReadXmmOperand(ref i, 1, true, out b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        XmmRegister a = d, r = d;
        uint mx = c.Mxcsr, flags = 0;
        if (dbl)
        {
            r.Lo = MinMax64(max, a.Lo, b.Lo, mx, ref flags);
            if (!scalar)
            {
                r.Hi = MinMax64(max, a.Hi, b.Hi, mx, ref flags);
            }
        }
        else
        {
            uint* x = (uint*)&a, y = (uint*)&b, z = (uint*)&r;
            for (int k = 0; k < (scalar ? 1 : 4); k++)
            {
                z[k] = MinMax32(max, x[k], y[k], mx, ref flags);
            }
        }

        if (c.SimdExceptions(flags))
        {
            d = r;
        }
    }

    // ---- Compare ----

    /// <summary>CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8 (predicate in imm8 bits 2:0): all-ones or zero per element.</summary>
    public static void Cmp(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        var m = i.Mnemonic;
        bool scalar = m is Mnemonic.Cmpss or Mnemonic.Cmpsd;
        bool dbl = m is Mnemonic.Cmppd or Mnemonic.Cmpsd;
        XmmRegister b;
        if (scalar)
        {
            if (!c.ReadScalarOperand(ref i, 1, dbl ? 8 : 4, out ulong s))
            {
                return;
            }

            b = new XmmRegister(s, 0);
        }
        else if (!c.ReadXmmOperand(ref i, 1, true, out b))
        {
            return;
        }

        int pred = (int)i.GetImmediate(2) & 7;
        Predicate(pred, 0, out bool signaling);
        ref var d = ref c.Xmm(i.Op0Register);
        XmmRegister a = d, r = d;
        uint mx = c.Mxcsr, flags = 0;
        if (dbl)
        {
            r.Lo = Predicate(pred, Order64(a.Lo, b.Lo, signaling, mx, ref flags), out _) ? ulong.MaxValue : 0;
            if (!scalar)
            {
                r.Hi = Predicate(pred, Order64(a.Hi, b.Hi, signaling, mx, ref flags), out _) ? ulong.MaxValue : 0;
            }
        }
        else
        {
            uint* x = (uint*)&a, y = (uint*)&b, z = (uint*)&r;
            for (int k = 0; k < (scalar ? 1 : 4); k++)
            {
                z[k] = Predicate(pred, Order32(x[k], y[k], signaling, mx, ref flags), out _) ? uint.MaxValue : 0;
            }
        }

        if (c.SimdExceptions(flags))
        {
            d = r;
        }
    }

    /// <summary>COMISS/UCOMISS/COMISD/UCOMISD: ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF, SF, AF cleared.
    /// COMIS signals IE on any NaN, UCOMIS only on an SNaN.</summary>
    public static void Comis(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        var m = i.Mnemonic;
        bool dbl = m is Mnemonic.Comisd or Mnemonic.Ucomisd;
        bool signaling = m is Mnemonic.Comiss or Mnemonic.Comisd;
        if (!c.ReadScalarOperand(ref i, 1, dbl ? 8 : 4, out ulong b))
        {
            return;
        }

        ulong a = c.Xmm(i.Op0Register).Lo;
        uint flags = 0;
        int order = dbl ? Order64(a, b, signaling, c.Mxcsr, ref flags) : Order32((uint)a, (uint)b, signaling, c.Mxcsr, ref flags);
        if (!c.SimdExceptions(flags))
        {
            return;
        }

        ulong f = order switch
        {
            2 => Rflags.ZF | Rflags.PF | Rflags.CF,
            -1 => Rflags.CF,
            0 => Rflags.ZF,
            _ => 0,
        };
        ref ulong rf = ref c.Regs.Rflags;
        rf = (rf & ~(Rflags.ZF | Rflags.PF | Rflags.CF | Rflags.OF | Rflags.SF | Rflags.AF)) | f;
    }

    // ---- Reciprocal approximations ----

    /// <summary>RCPPS/RCPSS/RSQRTPS/RSQRTSS: the SDM bounds the relative error by 1.5 * 2^-12; the model returns the
    /// correctly rounded value (within the bound, but not bit-identical to any particular processor). No flags.</summary>
    public static void Reciprocal(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        var m = i.Mnemonic;
        bool scalar = m is Mnemonic.Rcpss or Mnemonic.Rsqrtss;
        bool sqrt = m is Mnemonic.Rsqrtps or Mnemonic.Rsqrtss;
        XmmRegister b;
        if (scalar)
        {
            if (!c.ReadScalarOperand(ref i, 1, 4, out ulong s))
            {
                return;
            }

            b = new XmmRegister(s, 0);
        }
        else if (!c.ReadXmmOperand(ref i, 1, true, out b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        XmmRegister r = d;
        uint* y = (uint*)&b, z = (uint*)&r;
        for (int k = 0; k < (scalar ? 1 : 4); k++)
        {
            float x = BitConverter.Int32BitsToSingle((int)y[k]);
            if (IsDenormal32(y[k]))
            {
                x = float.IsNegative(x) ? -0.0f : 0.0f;
            }

            float v = sqrt ? (x < 0 ? float.NaN : 1.0f / MathF.Sqrt(x)) : 1.0f / x;
            z[k] = IsNaN32(y[k]) ? y[k] | 0x00400000 : float.IsNaN(v) ? DefaultNaN32 : (uint)BitConverter.SingleToInt32Bits(v);
        }

        d = r;
    }
}

using System.Numerics;
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
    public static void Addps(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, false, new(FpOp.Add));
    public static void Addss(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, true, new(FpOp.Add));
    public static void Addpd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, false, new(FpOp.Add));
    public static void Addsd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, true, new(FpOp.Add));
    public static void Subps(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, false, new(FpOp.Sub));
    public static void Subss(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, true, new(FpOp.Sub));
    public static void Subpd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, false, new(FpOp.Sub));
    public static void Subsd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, true, new(FpOp.Sub));
    public static void Mulps(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, false, new(FpOp.Mul));
    public static void Mulss(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, true, new(FpOp.Mul));
    public static void Mulpd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, false, new(FpOp.Mul));
    public static void Mulsd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, true, new(FpOp.Mul));
    public static void Divps(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, false, new(FpOp.Div));
    public static void Divss(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, true, new(FpOp.Div));
    public static void Divpd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, false, new(FpOp.Div));
    public static void Divsd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, true, new(FpOp.Div));
    public static void Sqrtps(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, false, new(FpOp.Sqrt));
    public static void Sqrtss(X86Cpu c, ref Instruction i) => Lanes<Binary32, uint, ArithLane>(c, ref i, true, new(FpOp.Sqrt));
    public static void Sqrtpd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, false, new(FpOp.Sqrt));
    public static void Sqrtsd(X86Cpu c, ref Instruction i) => Lanes<Binary64, ulong, ArithLane>(c, ref i, true, new(FpOp.Sqrt));

    /// <summary>What one element of a packed or scalar operation computes.</summary>
    private interface ILane
    {
        T Apply<F, T>(T a, T b, uint mxcsr, ref uint flags)
            where F : IFloatFormat<T>
            where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>;
    }

    private readonly struct ArithLane(FpOp op) : ILane
    {
        public T Apply<F, T>(T a, T b, uint mxcsr, ref uint flags)
            where F : IFloatFormat<T>
            where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> => Arith<F, T>(op, a, b, mxcsr, ref flags);
    }

    private readonly struct MinMaxLane(bool max) : ILane
    {
        public T Apply<F, T>(T a, T b, uint mxcsr, ref uint flags)
            where F : IFloatFormat<T>
            where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> => MinMax<F, T>(max, a, b, mxcsr, ref flags);
    }

    private readonly struct CompareLane(int predicate, bool signaling) : ILane
    {
        public T Apply<F, T>(T a, T b, uint mxcsr, ref uint flags)
            where F : IFloatFormat<T>
            where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> =>
            Predicate(predicate, Order<F, T>(a, b, signaling, mxcsr, ref flags), out _) ? T.AllBitsSet : T.Zero;
    }

    /// <summary>
    /// dest[k] = lane(dest[k], source[k]) for every element of format <typeparamref name="F"/> (packed: source
    /// XMM or aligned m128) or the low one (scalar: source XMM or m32/m64, the other elements unchanged);
    /// the destination is written only when no unmasked exception is raised.
    /// </summary>
    private static void Lanes<F, T, TLane>(X86Cpu c, ref Instruction i, bool scalar, TLane lane)
        where F : IFloatFormat<T>
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        where TLane : ILane
    {
        if (!c.SseAvailable())
        {
            return;
        }

        XmmRegister b;
        if (scalar)
        {
            if (!c.ReadScalarOperand(ref i, 1, sizeof(T), out ulong s))
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
        T* x = (T*)&a, y = (T*)&b, z = (T*)&r;
        for (int k = 0; k < (scalar ? 1 : 16 / sizeof(T)); k++)
        {
            z[k] = lane.Apply<F, T>(x[k], y[k], mx, ref flags);
        }

        if (c.SimdExceptions(flags))
        {
            d = r;
        }
    }

    // ---- MIN / MAX ----

    /// <summary>MINPS/MAXPS/MINPD/MAXPD/MINSS/MAXSS/MINSD/MAXSD.</summary>
    public static void MinMax(X86Cpu c, ref Instruction i)
    {
        var m = i.Mnemonic;
        var lane = new MinMaxLane(m is Mnemonic.Maxps or Mnemonic.Maxpd or Mnemonic.Maxss or Mnemonic.Maxsd);
        bool scalar = m is Mnemonic.Minss or Mnemonic.Maxss or Mnemonic.Minsd or Mnemonic.Maxsd;
        if (m is Mnemonic.Minpd or Mnemonic.Maxpd or Mnemonic.Minsd or Mnemonic.Maxsd)
        {
            Lanes<Binary64, ulong, MinMaxLane>(c, ref i, scalar, lane);
        }
        else
        {
            Lanes<Binary32, uint, MinMaxLane>(c, ref i, scalar, lane);
        }
    }

    // ---- Compare ----

    /// <summary>CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8 (predicate in imm8 bits 2:0): all-ones or zero per element.</summary>
    public static void Cmp(X86Cpu c, ref Instruction i)
    {
        var m = i.Mnemonic;
        int pred = (int)i.GetImmediate(2) & 7;
        Predicate(pred, 0, out bool signaling);
        var lane = new CompareLane(pred, signaling);
        bool scalar = m is Mnemonic.Cmpss or Mnemonic.Cmpsd;
        if (m is Mnemonic.Cmppd or Mnemonic.Cmpsd)
        {
            Lanes<Binary64, ulong, CompareLane>(c, ref i, scalar, lane);
        }
        else
        {
            Lanes<Binary32, uint, CompareLane>(c, ref i, scalar, lane);
        }
    }

    /// <summary>COMISS/UCOMISS/COMISD/UCOMISD: ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF, SF, AF cleared.
    /// COMIS signals IE on any NaN, UCOMIS only on an SNaN.</summary>
    public static void Comis(X86Cpu c, ref Instruction i)
    {
        var m = i.Mnemonic;
        bool dbl = m is Mnemonic.Comisd or Mnemonic.Ucomisd;
        if (!c.SseAvailable() || !c.ReadScalarOperand(ref i, 1, dbl ? 8 : 4, out ulong b))
        {
            return;
        }

        bool signaling = m is Mnemonic.Comiss or Mnemonic.Comisd;

        ulong a = c.Xmm(i.Op0Register).Lo;
        uint flags = 0;
        int order = dbl ? Order<Binary64, ulong>(a, b, signaling, c.Mxcsr, ref flags) : Order<Binary32, uint>((uint)a, (uint)b, signaling, c.Mxcsr, ref flags);
        if (!c.SimdExceptions(flags))
        {
            return;
        }

        c.SetCompareFlags(order);
    }

    // ---- Reciprocal approximations ----

    /// <summary>RCPPS/RCPSS/RSQRTPS/RSQRTSS: the SDM bounds the relative error by 1.5 * 2^-12; the model returns the
    /// correctly rounded value (within the bound, but not bit-identical to any particular processor). No flags.</summary>
    public static void Reciprocal(X86Cpu c, ref Instruction i)
    {
        var m = i.Mnemonic;
        Lanes<Binary32, uint, ReciprocalLane>(c, ref i, m is Mnemonic.Rcpss or Mnemonic.Rsqrtss, new(m is Mnemonic.Rsqrtps or Mnemonic.Rsqrtss));
    }

    /// <summary>1 / b or 1 / sqrt(b) in single precision (denormal sources as zero); <c>a</c> is not read.</summary>
    private readonly struct ReciprocalLane(bool sqrt) : ILane
    {
        public T Apply<F, T>(T a, T b, uint mxcsr, ref uint flags)
            where F : IFloatFormat<T>
            where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
        {
            uint y = uint.CreateTruncating(b);
            float x = BitConverter.Int32BitsToSingle((int)y);
            if (IsDenormal32(y))
            {
                x = float.IsNegative(x) ? -0.0f : 0.0f;
            }

            float v = sqrt ? (x < 0 ? float.NaN : 1.0f / MathF.Sqrt(x)) : 1.0f / x;
            return T.CreateTruncating(IsNaN32(y) ? y | 0x00400000 : float.IsNaN(v) ? DefaultNaN32 : (uint)BitConverter.SingleToInt32Bits(v));
        }
    }
}

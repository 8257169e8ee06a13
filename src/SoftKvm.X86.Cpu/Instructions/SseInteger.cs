using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>
/// SSE2 packed integer instructions and the SSE/SSE2 bitwise, shuffle and unpack instructions (their
/// data types do not matter): each handler is a lane function applied by <see cref="Binary"/>
/// (destination XMM, source XMM or 16-byte-aligned m128), written once for every lane width as a
/// <see cref="Vector128{T}"/> operation on lanes of that type.
/// </summary>
internal static unsafe class SseInteger
{
    /// <summary>dest = f(dest, source) with the source an XMM register or an aligned m128 (smaller memory
    /// operands, as PUNPCKL* never have in legacy SSE, are read with their own size).</summary>
    private static void Binary(X86Cpu c, ref Instruction i, delegate*<XmmRegister, XmmRegister, XmmRegister> f)
    {
        if (!c.SseAvailable() || !c.ReadXmmOperand(ref i, 1, true, out var b))
        {
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        d = f(d, b);
    }

    // ---- Bitwise (PAND.., ANDPS.., ANDPD..) ----

    public static void And(X86Cpu c, ref Instruction i) => Binary(c, ref i, &AndOp);
    public static void AndNot(X86Cpu c, ref Instruction i) => Binary(c, ref i, &AndNotOp);
    public static void Or(X86Cpu c, ref Instruction i) => Binary(c, ref i, &OrOp);
    public static void Xor(X86Cpu c, ref Instruction i) => Binary(c, ref i, &XorOp);

    private static XmmRegister AndOp(XmmRegister a, XmmRegister b) => new(a.Lo & b.Lo, a.Hi & b.Hi);
    private static XmmRegister AndNotOp(XmmRegister a, XmmRegister b) => new(~a.Lo & b.Lo, ~a.Hi & b.Hi);
    private static XmmRegister OrOp(XmmRegister a, XmmRegister b) => new(a.Lo | b.Lo, a.Hi | b.Hi);
    private static XmmRegister XorOp(XmmRegister a, XmmRegister b) => new(a.Lo ^ b.Lo, a.Hi ^ b.Hi);

    // ---- Lanes ----

    // An XMM value as a vector of lanes of T and back: every lane operation below is one Vector128
    // operation (the host's SIMD where it has one), or LanesOf for the few the vector API lacks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> V<T>(XmmRegister x) => Unsafe.BitCast<XmmRegister, Vector128<T>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static XmmRegister X<T>(Vector128<T> v) => Unsafe.BitCast<Vector128<T>, XmmRegister>(v);

    /// <summary>A lane function the vector API has no operation for.</summary>
    private interface ILane<T>
        where T : unmanaged
    {
        static abstract T Apply(T x, T y);
    }

    /// <summary>z[k] = TLane(x[k], y[k]) for every lane of T.</summary>
    private static XmmRegister LanesOf<T, TLane>(XmmRegister a, XmmRegister b)
        where T : unmanaged
        where TLane : ILane<T>
    {
        XmmRegister r;
        T* x = (T*)&a, y = (T*)&b, z = (T*)&r;
        for (int k = 0; k < 16 / sizeof(T); k++)
        {
            z[k] = TLane.Apply(x[k], y[k]);
        }

        return r;
    }

    /// <summary>The high half of the full product (PMULHW, PMULHUW).</summary>
    private readonly struct MulHigh<T> : ILane<T>
        where T : unmanaged, IBinaryInteger<T>
    {
        public static T Apply(T x, T y) => T.CreateTruncating((long.CreateTruncating(x) * long.CreateTruncating(y)) >> 16);
    }

    // ---- Add / subtract ----

    public static void Paddb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PaddbOp);
    public static void Paddw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PaddwOp);
    public static void Paddd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PadddOp);
    public static void Paddq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PaddqOp);
    public static void Psubb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubbOp);
    public static void Psubw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubwOp);
    public static void Psubd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubdOp);
    public static void Psubq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubqOp);
    public static void Paddsb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PaddsbOp);
    public static void Paddsw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PaddswOp);
    public static void Paddusb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PaddusbOp);
    public static void Paddusw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PadduswOp);
    public static void Psubsb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubsbOp);
    public static void Psubsw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubswOp);
    public static void Psubusb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubusbOp);
    public static void Psubusw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsubuswOp);

    private static XmmRegister Add<T>(XmmRegister a, XmmRegister b) => X(V<T>(a) + V<T>(b));
    private static XmmRegister Sub<T>(XmmRegister a, XmmRegister b) => X(V<T>(a) - V<T>(b));
    private static XmmRegister AddSaturate<T>(XmmRegister a, XmmRegister b) => X(Vector128.AddSaturate(V<T>(a), V<T>(b)));
    private static XmmRegister SubSaturate<T>(XmmRegister a, XmmRegister b) => X(Vector128.SubtractSaturate(V<T>(a), V<T>(b)));

    private static XmmRegister PaddbOp(XmmRegister a, XmmRegister b) => Add<byte>(a, b);
    private static XmmRegister PaddwOp(XmmRegister a, XmmRegister b) => Add<ushort>(a, b);
    private static XmmRegister PadddOp(XmmRegister a, XmmRegister b) => Add<uint>(a, b);
    private static XmmRegister PaddqOp(XmmRegister a, XmmRegister b) => Add<ulong>(a, b);
    private static XmmRegister PsubbOp(XmmRegister a, XmmRegister b) => Sub<byte>(a, b);
    private static XmmRegister PsubwOp(XmmRegister a, XmmRegister b) => Sub<ushort>(a, b);
    private static XmmRegister PsubdOp(XmmRegister a, XmmRegister b) => Sub<uint>(a, b);
    private static XmmRegister PsubqOp(XmmRegister a, XmmRegister b) => Sub<ulong>(a, b);
    private static XmmRegister PaddsbOp(XmmRegister a, XmmRegister b) => AddSaturate<sbyte>(a, b);
    private static XmmRegister PaddswOp(XmmRegister a, XmmRegister b) => AddSaturate<short>(a, b);
    private static XmmRegister PaddusbOp(XmmRegister a, XmmRegister b) => AddSaturate<byte>(a, b);
    private static XmmRegister PadduswOp(XmmRegister a, XmmRegister b) => AddSaturate<ushort>(a, b);
    private static XmmRegister PsubsbOp(XmmRegister a, XmmRegister b) => SubSaturate<sbyte>(a, b);
    private static XmmRegister PsubswOp(XmmRegister a, XmmRegister b) => SubSaturate<short>(a, b);
    private static XmmRegister PsubusbOp(XmmRegister a, XmmRegister b) => SubSaturate<byte>(a, b);
    private static XmmRegister PsubuswOp(XmmRegister a, XmmRegister b) => SubSaturate<ushort>(a, b);

    // ---- Compare, min/max, average, SAD ----

    public static void Pcmpeqb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PcmpeqbOp);
    public static void Pcmpeqw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PcmpeqwOp);
    public static void Pcmpeqd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PcmpeqdOp);
    public static void Pcmpgtb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PcmpgtbOp);
    public static void Pcmpgtw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PcmpgtwOp);
    public static void Pcmpgtd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PcmpgtdOp);
    public static void Pminub(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PminubOp);
    public static void Pmaxub(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmaxubOp);
    public static void Pminsw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PminswOp);
    public static void Pmaxsw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmaxswOp);
    public static void Pavgb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PavgbOp);
    public static void Pavgw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PavgwOp);
    public static void Psadbw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PsadbwOp);

    /// <summary>All ones in the lanes where a == b (PCMPEQ*).</summary>
    private static XmmRegister Equal<T>(XmmRegister a, XmmRegister b) => X(Vector128.Equals(V<T>(a), V<T>(b)));

    /// <summary>All ones in the lanes where a &gt; b, T signed (PCMPGT*).</summary>
    private static XmmRegister Greater<T>(XmmRegister a, XmmRegister b) => X(Vector128.GreaterThan(V<T>(a), V<T>(b)));

    /// <summary>(a + b + 1) &gt;&gt; 1 without a wider type: (a | b) - ((a ^ b) &gt;&gt; 1), T unsigned (PAVG*).</summary>
    private static XmmRegister Average<T>(XmmRegister a, XmmRegister b) => X((V<T>(a) | V<T>(b)) - ((V<T>(a) ^ V<T>(b)) >>> 1));

    private static XmmRegister PcmpeqbOp(XmmRegister a, XmmRegister b) => Equal<byte>(a, b);
    private static XmmRegister PcmpeqwOp(XmmRegister a, XmmRegister b) => Equal<ushort>(a, b);
    private static XmmRegister PcmpeqdOp(XmmRegister a, XmmRegister b) => Equal<uint>(a, b);
    private static XmmRegister PcmpgtbOp(XmmRegister a, XmmRegister b) => Greater<sbyte>(a, b);
    private static XmmRegister PcmpgtwOp(XmmRegister a, XmmRegister b) => Greater<short>(a, b);
    private static XmmRegister PcmpgtdOp(XmmRegister a, XmmRegister b) => Greater<int>(a, b);
    private static XmmRegister PminubOp(XmmRegister a, XmmRegister b) => X(Vector128.Min(V<byte>(a), V<byte>(b)));
    private static XmmRegister PmaxubOp(XmmRegister a, XmmRegister b) => X(Vector128.Max(V<byte>(a), V<byte>(b)));
    private static XmmRegister PminswOp(XmmRegister a, XmmRegister b) => X(Vector128.Min(V<short>(a), V<short>(b)));
    private static XmmRegister PmaxswOp(XmmRegister a, XmmRegister b) => X(Vector128.Max(V<short>(a), V<short>(b)));
    private static XmmRegister PavgbOp(XmmRegister a, XmmRegister b) => Average<byte>(a, b);
    private static XmmRegister PavgwOp(XmmRegister a, XmmRegister b) => Average<ushort>(a, b);

    private static XmmRegister PsadbwOp(XmmRegister a, XmmRegister b)
    {
        byte* x = (byte*)&a, y = (byte*)&b;
        ulong lo = 0, hi = 0;
        for (int k = 0; k < 8; k++)
        {
            lo += (ulong)Math.Abs(x[k] - y[k]);
            hi += (ulong)Math.Abs(x[k + 8] - y[k + 8]);
        }

        return new XmmRegister(lo, hi);
    }

    // ---- Multiply ----

    public static void Pmullw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmullwOp);
    public static void Pmulhw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmulhwOp);
    public static void Pmulhuw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmulhuwOp);
    public static void Pmuludq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmuludqOp);
    public static void Pmaddwd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PmaddwdOp);

    private static XmmRegister PmullwOp(XmmRegister a, XmmRegister b) => X(V<short>(a) * V<short>(b));
    private static XmmRegister PmulhwOp(XmmRegister a, XmmRegister b) => LanesOf<short, MulHigh<short>>(a, b);
    private static XmmRegister PmulhuwOp(XmmRegister a, XmmRegister b) => LanesOf<ushort, MulHigh<ushort>>(a, b);
    private static XmmRegister PmuludqOp(XmmRegister a, XmmRegister b) => new((a.Lo & 0xFFFFFFFF) * (b.Lo & 0xFFFFFFFF), (a.Hi & 0xFFFFFFFF) * (b.Hi & 0xFFFFFFFF));

    private static XmmRegister PmaddwdOp(XmmRegister a, XmmRegister b)
    {
        XmmRegister r;
        short* x = (short*)&a, y = (short*)&b;
        int* z = (int*)&r;
        for (int k = 0; k < 4; k++)
        {
            z[k] = (int)((long)x[2 * k] * y[2 * k] + (long)x[2 * k + 1] * y[2 * k + 1]);
        }

        return r;
    }

    // ---- Shifts ----

    /// <summary>PSLL/PSRL/PSRA W/D/Q with an imm8 or an XMM/m128 count (its low 64 bits); counts beyond the
    /// element width clear the element (logical) or fill it with the sign (arithmetic).</summary>
    public static void Shift(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        ulong count;
        if (i.Op1Kind == OpKind.Immediate8)
        {
            count = i.Immediate8;
        }
        else
        {
            if (!c.ReadXmmOperand(ref i, 1, true, out var s))
            {
                return;
            }

            count = s.Lo;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        d = ShiftOp(i.Mnemonic, d, count);
    }

    internal static XmmRegister ShiftOp(Mnemonic m, XmmRegister a, ulong count) => m switch
    {
        Mnemonic.Psllw => ShiftLeft<ushort>(a, count),
        Mnemonic.Pslld => ShiftLeft<uint>(a, count),
        Mnemonic.Psllq => ShiftLeft<ulong>(a, count),
        Mnemonic.Psrlw => ShiftRightLogical<ushort>(a, count),
        Mnemonic.Psrld => ShiftRightLogical<uint>(a, count),
        Mnemonic.Psrlq => ShiftRightLogical<ulong>(a, count),
        Mnemonic.Psraw => ShiftRightArithmetic<short>(a, count),
        Mnemonic.Psrad => ShiftRightArithmetic<int>(a, count),
        _ => a,
    };

    private static XmmRegister ShiftLeft<T>(XmmRegister a, ulong count)
        where T : unmanaged => count >= (ulong)(8 * sizeof(T)) ? default : X(V<T>(a) << (int)count);

    private static XmmRegister ShiftRightLogical<T>(XmmRegister a, ulong count)
        where T : unmanaged => count >= (ulong)(8 * sizeof(T)) ? default : X(V<T>(a) >>> (int)count);

    private static XmmRegister ShiftRightArithmetic<T>(XmmRegister a, ulong count)
        where T : unmanaged => X(V<T>(a) >> (int)Math.Min(count, (ulong)(8 * sizeof(T)) - 1));

    /// <summary>PSLLDQ / PSRLDQ xmm, imm8: byte shifts of the whole register (counts above 15 clear it).</summary>
    public static void ByteShift(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        int n = i.Immediate8;
        ref var d = ref c.Xmm(i.Op0Register);
        if (n > 15)
        {
            d = default;
            return;
        }

        UInt128 v = new(d.Hi, d.Lo);
        v = i.Mnemonic == Mnemonic.Pslldq ? v << (n * 8) : v >> (n * 8);
        d = new XmmRegister((ulong)v, (ulong)(v >> 64));
    }

    // ---- Shuffles ----

    /// <summary>PSHUFD / PSHUFLW / PSHUFHW xmm, xmm/m128, imm8.</summary>
    public static void Pshuf(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable() || !c.ReadXmmOperand(ref i, 1, true, out var s))
        {
            return;
        }

        int imm = i.Immediate8;
        XmmRegister r = s;
        switch (i.Mnemonic)
        {
            case Mnemonic.Pshufd:
            {
                uint* x = (uint*)&s, z = (uint*)&r;
                for (int k = 0; k < 4; k++)
                {
                    z[k] = x[(imm >> (2 * k)) & 3];
                }

                break;
            }

            case Mnemonic.Pshuflw:
                r.Lo = ShuffleWords(s.Lo, imm);
                break;
            default:
                r.Hi = ShuffleWords(s.Hi, imm);
                break;
        }

        c.Xmm(i.Op0Register) = r;
    }

    /// <summary>The four words of <paramref name="q"/> chosen by the 2-bit fields of <paramref name="imm"/> (PSHUFLW, PSHUFHW, PSHUFW).</summary>
    internal static ulong ShuffleWords(ulong q, int imm)
    {
        ulong r = 0;
        for (int k = 0; k < 4; k++)
        {
            r |= ((q >> (16 * ((imm >> (2 * k)) & 3))) & 0xFFFF) << (16 * k);
        }

        return r;
    }

    /// <summary>SHUFPS / SHUFPD xmm, xmm/m128, imm8: the low half from the destination, the high half from the source.</summary>
    public static void Shufp(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable() || !c.ReadXmmOperand(ref i, 1, true, out var s))
        {
            return;
        }

        int imm = i.Immediate8;
        ref var d = ref c.Xmm(i.Op0Register);
        var a = d;
        XmmRegister r;
        if (i.Mnemonic == Mnemonic.Shufps)
        {
            uint* x = (uint*)&a, y = (uint*)&s, z = (uint*)&r;
            z[0] = x[imm & 3];
            z[1] = x[(imm >> 2) & 3];
            z[2] = y[(imm >> 4) & 3];
            z[3] = y[(imm >> 6) & 3];
        }
        else
        {
            r = new XmmRegister((imm & 1) != 0 ? a.Hi : a.Lo, (imm & 2) != 0 ? s.Hi : s.Lo);
        }

        d = r;
    }

    // ---- Unpack and pack ----

    public static void Punpcklbw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpcklbwOp);
    public static void Punpckhbw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpckhbwOp);
    public static void Punpcklwd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpcklwdOp);
    public static void Punpckhwd(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpckhwdOp);
    public static void Punpckldq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpckldqOp);
    public static void Punpckhdq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpckhdqOp);
    public static void Punpcklqdq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpcklqdqOp);
    public static void Punpckhqdq(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PunpckhqdqOp);
    public static void Packsswb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PacksswbOp);
    public static void Packuswb(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PackuswbOp);
    public static void Packssdw(X86Cpu c, ref Instruction i) => Binary(c, ref i, &PackssdwOp);

    // Interleaving the low (high) lanes of a and b is zero-extending both to lanes twice as wide and
    // putting b's in the upper half of each.
    private static XmmRegister PunpcklbwOp(XmmRegister a, XmmRegister b) => X(Vector128.WidenLower(V<byte>(a)) | (Vector128.WidenLower(V<byte>(b)) << 8));
    private static XmmRegister PunpckhbwOp(XmmRegister a, XmmRegister b) => X(Vector128.WidenUpper(V<byte>(a)) | (Vector128.WidenUpper(V<byte>(b)) << 8));
    private static XmmRegister PunpcklwdOp(XmmRegister a, XmmRegister b) => X(Vector128.WidenLower(V<ushort>(a)) | (Vector128.WidenLower(V<ushort>(b)) << 16));
    private static XmmRegister PunpckhwdOp(XmmRegister a, XmmRegister b) => X(Vector128.WidenUpper(V<ushort>(a)) | (Vector128.WidenUpper(V<ushort>(b)) << 16));
    private static XmmRegister PunpckldqOp(XmmRegister a, XmmRegister b) => new((a.Lo & 0xFFFFFFFF) | (b.Lo << 32), (a.Lo >> 32) | (b.Lo & 0xFFFFFFFF00000000UL));
    private static XmmRegister PunpckhdqOp(XmmRegister a, XmmRegister b) => new((a.Hi & 0xFFFFFFFF) | (b.Hi << 32), (a.Hi >> 32) | (b.Hi & 0xFFFFFFFF00000000UL));
    private static XmmRegister PunpcklqdqOp(XmmRegister a, XmmRegister b) => new(a.Lo, b.Lo);
    private static XmmRegister PunpckhqdqOp(XmmRegister a, XmmRegister b) => new(a.Hi, b.Hi);

    // Packs: a's lanes narrowed into the low half, b's into the high half.
    private static XmmRegister PacksswbOp(XmmRegister a, XmmRegister b) => X(Vector128.NarrowWithSaturation(V<short>(a), V<short>(b)));
    private static XmmRegister PackssdwOp(XmmRegister a, XmmRegister b) => X(Vector128.NarrowWithSaturation(V<int>(a), V<int>(b)));

    private static XmmRegister PackuswbOp(XmmRegister a, XmmRegister b)
    {
        Vector128<short> min = Vector128<short>.Zero, max = Vector128.Create((short)255);
        return X(Vector128.Narrow(Vector128.Clamp(V<short>(a), min, max), Vector128.Clamp(V<short>(b), min, max)));
    }

    /// <summary>The lane function of a two-operand packed-integer or bitwise mnemonic (shared with the MMX forms); null for others.</summary>
    internal static delegate*<XmmRegister, XmmRegister, XmmRegister> LaneFunction(Mnemonic m) => m switch
    {
        Mnemonic.Pand => &AndOp,
        Mnemonic.Pandn => &AndNotOp,
        Mnemonic.Por => &OrOp,
        Mnemonic.Pxor => &XorOp,
        Mnemonic.Paddb => &PaddbOp,
        Mnemonic.Paddw => &PaddwOp,
        Mnemonic.Paddd => &PadddOp,
        Mnemonic.Paddq => &PaddqOp,
        Mnemonic.Psubb => &PsubbOp,
        Mnemonic.Psubw => &PsubwOp,
        Mnemonic.Psubd => &PsubdOp,
        Mnemonic.Psubq => &PsubqOp,
        Mnemonic.Paddsb => &PaddsbOp,
        Mnemonic.Paddsw => &PaddswOp,
        Mnemonic.Paddusb => &PaddusbOp,
        Mnemonic.Paddusw => &PadduswOp,
        Mnemonic.Psubsb => &PsubsbOp,
        Mnemonic.Psubsw => &PsubswOp,
        Mnemonic.Psubusb => &PsubusbOp,
        Mnemonic.Psubusw => &PsubuswOp,
        Mnemonic.Pcmpeqb => &PcmpeqbOp,
        Mnemonic.Pcmpeqw => &PcmpeqwOp,
        Mnemonic.Pcmpeqd => &PcmpeqdOp,
        Mnemonic.Pcmpgtb => &PcmpgtbOp,
        Mnemonic.Pcmpgtw => &PcmpgtwOp,
        Mnemonic.Pcmpgtd => &PcmpgtdOp,
        Mnemonic.Pminub => &PminubOp,
        Mnemonic.Pmaxub => &PmaxubOp,
        Mnemonic.Pminsw => &PminswOp,
        Mnemonic.Pmaxsw => &PmaxswOp,
        Mnemonic.Pavgb => &PavgbOp,
        Mnemonic.Pavgw => &PavgwOp,
        Mnemonic.Psadbw => &PsadbwOp,
        Mnemonic.Pmullw => &PmullwOp,
        Mnemonic.Pmulhw => &PmulhwOp,
        Mnemonic.Pmulhuw => &PmulhuwOp,
        Mnemonic.Pmuludq => &PmuludqOp,
        Mnemonic.Pmaddwd => &PmaddwdOp,
        Mnemonic.Punpcklbw or Mnemonic.Punpckhbw => &PunpcklbwOp,
        Mnemonic.Punpcklwd or Mnemonic.Punpckhwd => &PunpcklwdOp,
        Mnemonic.Punpckldq or Mnemonic.Punpckhdq => &PunpckldqOp,
        Mnemonic.Packsswb => &PacksswbOp,
        Mnemonic.Packuswb => &PackuswbOp,
        Mnemonic.Packssdw => &PackssdwOp,
        _ => null,
    };
}

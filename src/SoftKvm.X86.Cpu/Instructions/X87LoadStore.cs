using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.X87Math;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>x87 loads and stores: FLD/FST/FSTP (m32, m64, m80, ST(i)), FILD/FIST/FISTP/FISTTP, the constants, FXCH, FFREE.</summary>
internal static class X87LoadStore
{
    /// <summary>Reads a floating-point or integer memory operand (by its Iced memory size) as an 80-bit value,
    /// reporting IE for an SNaN (quieted) and DE for a denormal.</summary>
    internal static bool ReadMemory(X86Cpu c, ref Instruction i, out Float80 v, ref uint flags)
    {
        v = default;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        switch (i.MemorySize)
        {
            case MemorySize.Float32:
            {
                if (!c.Read(seg, ea, 4, out ulong bits))
                {
                    return false;
                }

                uint b = (uint)bits;
                if (SseFloatMath.IsSNaN32(b))
                {
                    flags |= SseFloatMath.IE;
                    b |= 0x00400000;
                }
                else if (SseFloatMath.IsDenormal32(b))
                {
                    flags |= SseFloatMath.DE;
                }

                v = SseFloatMath.IsNaN32(b)
                    ? Make((b >> 31) != 0, ExpMax, (1UL << 63) | ((ulong)(b & 0x7FFFFF) << 40))
                    : FromDouble(BitConverter.Int32BitsToSingle((int)b));
                return true;
            }

            case MemorySize.Float64:
            {
                if (!c.Read(seg, ea, 8, out ulong b))
                {
                    return false;
                }

                if (SseFloatMath.IsSNaN64(b))
                {
                    flags |= SseFloatMath.IE;
                    b |= 1UL << 51;
                }
                else if (SseFloatMath.IsDenormal64(b))
                {
                    flags |= SseFloatMath.DE;
                }

                v = FromDouble(BitConverter.UInt64BitsToDouble(b));
                return true;
            }

            case MemorySize.Float80:
            {
                if (!c.Read(seg, ea, 8, out ulong m) || !c.Read(seg, ea + 8, 2, out ulong se))
                {
                    return false;
                }

                v = new Float80 { Significand = m, SignExponent = (ushort)se };
                return true;
            }

            case MemorySize.Int16:
            {
                if (!c.Read(seg, ea, 2, out ulong n))
                {
                    return false;
                }

                v = FromInt64((short)n);
                return true;
            }

            case MemorySize.Int32:
            {
                if (!c.Read(seg, ea, 4, out ulong n))
                {
                    return false;
                }

                v = FromInt64((int)n);
                return true;
            }

            case MemorySize.Int64:
            {
                if (!c.Read(seg, ea, 8, out ulong n))
                {
                    return false;
                }

                v = FromInt64((long)n);
                return true;
            }

            default:
                c.Unimplemented();
                return false;
        }
    }

    /// <summary>FLD m32/m64/m80 / ST(i), FILD m16/m32/m64.</summary>
    public static void Fld(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        Float80 v;
        uint flags = 0;
        if (i.Op0Kind == OpKind.Register)
        {
            int k = i.Op0Register - Register.ST0;
            if (!c.StValid(k))
            {
                if (!c.X87Exceptions(SseFloatMath.IE, stack: true))
                {
                    return;
                }

                v = Indefinite;
            }
            else
            {
                v = c.St(k);
            }
        }
        else if (!ReadMemory(c, ref i, out v, ref flags))
        {
            return;
        }

        if (!c.X87Exceptions(flags))
        {
            return;
        }

        c.FpuPush(v);
    }

    /// <summary>FLD1, FLDZ, FLDPI, FLDL2E, FLDL2T, FLDLG2, FLDLN2, rounded to 64 bits with FCW.RC.</summary>
    public static void LoadConstant(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        // The round-to-nearest encodings and whether nearest rounded them up (the other modes then differ by one unit).
        (Float80 v, int nearestUp) = i.Mnemonic switch
        {
            Mnemonic.Fld1 => (Make(false, Bias, 1UL << 63), 0),
            Mnemonic.Fldz => (Make(false, 0, 0), 0),
            Mnemonic.Fldpi => (Make(false, 0x4000, 0xC90FDAA22168C235), 1),
            Mnemonic.Fldl2t => (Make(false, 0x4000, 0xD49A784BCD1B8AFE), -1),
            Mnemonic.Fldl2e => (Make(false, 0x3FFF, 0xB8AA3B295C17F0BC), 1),
            Mnemonic.Fldlg2 => (Make(false, 0x3FFD, 0x9A209A84FBCFF799), 1),
            _ => (Make(false, 0x3FFE, 0xB17217F7D1CF79AC), 1),
        };
        int rc = (c.Fpu.Fcw >> 10) & 3;
        if (nearestUp > 0 && rc is 1 or 3)
        {
            v.Significand--;
        }
        else if (nearestUp < 0 && rc == 2)
        {
            v.Significand++;
        }

        c.FpuPush(v);
    }

    /// <summary>FST/FSTP m32/m64/m80/ST(i) (with the pop for FSTP and its aliases).</summary>
    public static void Fst(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        bool pop = i.Mnemonic is Mnemonic.Fstp or Mnemonic.Fstpnce;
        Float80 v = c.St(0);
        if (!c.StValid(0))
        {
            if (!c.X87Exceptions(SseFloatMath.IE, stack: true))
            {
                return;
            }

            v = Indefinite;
        }

        if (i.Op0Kind == OpKind.Register)
        {
            c.St(i.Op0Register - Register.ST0) = v;
            c.SetStValid(i.Op0Register - Register.ST0, true);
            if (pop)
            {
                c.FpuPop();
            }

            return;
        }

        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        uint flags = 0;
        uint rc = c.X87RoundingControl & ~(c.X87UnderflowUnmasked ? 1u << 11 : 0);
        uint unmaskedRange = (c.X87OverflowUnmasked ? SseFloatMath.OE : 0) | (c.X87UnderflowUnmasked ? SseFloatMath.UE : 0);
        switch (i.MemorySize)
        {
            case MemorySize.Float32:
            {
                uint bits;
                if (IsUnsupported(v))
                {
                    flags |= SseFloatMath.IE;
                    bits = SseFloatMath.DefaultNaN32;
                }
                else if (IsNaN(v))
                {
                    flags |= IsSNaN(v) ? SseFloatMath.IE : 0;
                    bits = (IsNegative(v) ? 0x80000000u : 0) | 0x7FC00000u | (uint)((v.Significand >> 40) & 0x3FFFFF);
                }
                else if (IsInfinity(v))
                {
                    bits = IsNegative(v) ? 0xFF800000u : 0x7F800000u;
                }
                else
                {
                    double r = ToDouble(v, out int e);
                    bits = double.IsInfinity(r) ? OverflowBits32(IsNegative(v), rc, ref flags) : SseFloatMath.Finish32(r, e, rc, ref flags);
                }

                // An unmasked overflow or underflow stores nothing to memory (the #MF handler sees the register).
                if (!c.X87Exceptions(flags) || (flags & unmaskedRange) != 0 || !c.Write(seg, ea, 4, bits))
                {
                    return;
                }

                c.SetC1(StoreRoundedUp(v, BitConverter.Int32BitsToSingle((int)bits), flags));
                break;
            }

            case MemorySize.Float64:
            {
                ulong bits;
                if (IsUnsupported(v))
                {
                    flags |= SseFloatMath.IE;
                    bits = SseFloatMath.DefaultNaN64;
                }
                else if (IsNaN(v))
                {
                    flags |= IsSNaN(v) ? SseFloatMath.IE : 0;
                    bits = BitConverter.DoubleToUInt64Bits(ToDouble(Quiet(v), out _));
                }
                else if (IsInfinity(v))
                {
                    bits = IsNegative(v) ? 0xFFF0000000000000UL : 0x7FF0000000000000UL;
                }
                else
                {
                    double r = ToDouble(v, out int e);
                    bits = SseFloatMath.Finish64(r, e, rc, ref flags);
                }

                if (!c.X87Exceptions(flags) || (flags & unmaskedRange) != 0 || !c.Write(seg, ea, 8, bits))
                {
                    return;
                }

                c.SetC1(StoreRoundedUp(v, BitConverter.UInt64BitsToDouble(bits), flags));
                break;
            }

            default:
                if (!c.ProbeWrite(seg, ea, 10) || !c.Write(seg, ea, 8, v.Significand) || !c.Write(seg, ea + 8, 2, v.SignExponent))
                {
                    return;
                }

                break;
        }

        if (pop)
        {
            c.FpuPop();
        }
    }

    /// <summary>C1 after a rounding store: the stored value is larger in magnitude than the register's.</summary>
    private static bool StoreRoundedUp(Float80 v, double stored, uint flags)
    {
        if ((flags & SseFloatMath.PE) == 0 || IsNaN(v) || double.IsInfinity(stored))
        {
            return false;
        }

        double r = ToDouble(v, out int e);
        int sign = stored == r ? e : SseFloatMath.Sign(r - stored);
        return sign != 0 && (sign < 0) == (stored > 0);
    }

    private static uint OverflowBits32(bool negative, uint rc, ref uint flags)
    {
        flags |= SseFloatMath.OE | SseFloatMath.PE;
        int mode = (int)(rc >> 13) & 3;
        bool toInf = mode == 0 || (mode == 1 && negative) || (mode == 2 && !negative);
        return (negative ? 0x80000000u : 0) | (toInf ? 0x7F800000u : 0x7F7FFFFFu);
    }

    /// <summary>FIST/FISTP m16/m32/m64 (FCW rounding) and FISTTP (truncation): NaN, infinity and out-of-range
    /// values store the integer indefinite with IE.</summary>
    public static void Fist(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        bool pop = i.Mnemonic is Mnemonic.Fistp or Mnemonic.Fisttp;
        int size = X86Cpu.OpSize(ref i, 0);
        ulong limit = 1UL << (size * 8 - 1);
        int rc = i.Mnemonic == Mnemonic.Fisttp ? 3 : (c.Fpu.Fcw >> 10) & 3;
        if (!RoundForIntegerStore(c, rc, limit - 1, limit, out uint flags, out bool indefinite, out bool negative, out ulong m, out bool roundedUp))
        {
            return;
        }

        ulong result = indefinite ? limit : (negative ? (ulong)-(long)m : m) & X86Cpu.SizeMask(size);
        if (!c.X87Exceptions(flags) || !c.WriteOp(ref i, 0, size, result))
        {
            return;
        }

        c.SetC1(roundedUp && (flags & SseFloatMath.IE) == 0);
        if (pop)
        {
            c.FpuPop();
        }
    }

    /// <summary>
    /// ST(0) rounded to an integer with rounding control <paramref name="rc"/> for FIST, FISTP, FISTTP and
    /// FBSTP: its sign and <paramref name="magnitude"/> (PE in <paramref name="flags"/> when inexact), or
    /// <paramref name="indefinite"/> for an empty register (a stack fault, raised here), a NaN, an infinity,
    /// an unsupported encoding or a magnitude above <paramref name="maxPositive"/> / <paramref name="maxNegative"/>
    /// (IE in <paramref name="flags"/>). False when an unmasked stack fault ended the instruction.
    /// </summary>
    private static bool RoundForIntegerStore(X86Cpu c, int rc, ulong maxPositive, ulong maxNegative,
        out uint flags, out bool indefinite, out bool negative, out ulong magnitude, out bool roundedUp)
    {
        flags = 0;
        indefinite = true;
        negative = false;
        magnitude = 0;
        roundedUp = false;
        Float80 v = c.St(0);
        if (!c.StValid(0))
        {
            return c.X87Exceptions(SseFloatMath.IE, stack: true);
        }

        if (IsNaN(v) || IsInfinity(v) || IsUnsupported(v) || !RoundToInteger(v, rc, out negative, out UInt128 mag, out bool inexact, out roundedUp)
            || mag > (negative ? maxNegative : maxPositive))
        {
            flags = SseFloatMath.IE;
            return true;
        }

        indefinite = false;
        magnitude = (ulong)mag;
        flags = inexact ? SseFloatMath.PE : 0;
        return true;
    }

    /// <summary>FXCH ST(i): an empty operand is a stack underflow (masked: treated as the indefinite QNaN).</summary>
    public static void Fxch(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        int k = i.Op1Kind == OpKind.Register ? i.Op1Register - Register.ST0 : 1;
        bool v0 = c.StValid(0), vk = c.StValid(k);
        if ((!v0 || !vk) && !c.X87Exceptions(SseFloatMath.IE, stack: true))
        {
            return;
        }

        Float80 a = v0 ? c.St(0) : Indefinite, b = vk ? c.St(k) : Indefinite;
        c.St(0) = b;
        c.St(k) = a;
        c.SetStValid(0, true);
        c.SetStValid(k, true);
        c.Fpu.Fsw &= unchecked((ushort)~X86Cpu.FswC1);
    }

    /// <summary>FFREE ST(i) / FFREEP ST(i): marks the register empty (FFREEP then pops).</summary>
    public static void Ffree(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        c.SetStValid(i.Op0Register - Register.ST0, false);
        if (i.Mnemonic == Mnemonic.Ffreep)
        {
            c.FpuPop();
        }
    }

    /// <summary>FBLD m80bcd: 18 packed BCD digits and a sign (bit 79), loaded exactly (each nibble weighted by its
    /// power of ten, so out-of-range nibbles load the value the arithmetic gives).</summary>
    public static void Fbld(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (!c.Read(seg, ea, 8, out ulong lo) || !c.Read(seg, ea + 8, 2, out ulong hi))
        {
            return;
        }

        UInt128 value = 0, weight = 1;
        for (int k = 0; k < 18; k++)
        {
            ulong nibble = k < 16 ? (lo >> (4 * k)) & 0xF : (hi >> (4 * (k - 16))) & 0xF;
            value += nibble * weight;
            weight *= 10;
        }

        bool negative = (hi & 0x8000) != 0;
        c.FpuPush(FromMagnitude(negative, value));
    }

    /// <summary>FBSTP m80bcd: rounds ST(0) with FCW.RC to an integer and stores it as 18 BCD digits and a sign, then pops;
    /// NaN, infinity and magnitudes of 10^18 or more store the BCD indefinite (FFFF C000 0000 0000 0000h) with IE.</summary>
    public static void Fbstp(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, true, false))
        {
            return;
        }

        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        const ulong Max = 999_999_999_999_999_999UL;
        if (!RoundForIntegerStore(c, (c.Fpu.Fcw >> 10) & 3, Max, Max, out uint flags, out bool indefinite, out bool negative, out ulong n, out bool roundedUp))
        {
            return;
        }

        ulong lo = 0xC000UL << 48, hi = 0xFFFF;
        if (!indefinite)
        {
            lo = 0;
            hi = negative ? 0x8000UL : 0;
            for (int k = 0; k < 18; k++)
            {
                ulong digit = n % 10;
                n /= 10;
                if (k < 16)
                {
                    lo |= digit << (4 * k);
                }
                else
                {
                    hi |= digit << (4 * (k - 16));
                }
            }
        }

        if (!c.X87Exceptions(flags) || !c.ProbeWrite(seg, ea, 10) || !c.Write(seg, ea, 8, lo) || !c.Write(seg, ea + 8, 2, hi))
        {
            return;
        }

        c.SetC1(roundedUp && (flags & SseFloatMath.IE) == 0);
        c.FpuPop();
    }
}

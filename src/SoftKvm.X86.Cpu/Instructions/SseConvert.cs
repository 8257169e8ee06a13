using System.Runtime.CompilerServices;
using Iced.Intel;
using static SoftKvm.X86.Cpu.Instructions.SseFloatMath;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>SSE/SSE2 conversions between integers, single and double precision (MXCSR rounding, the integer
/// indefinite 0x80000000 / 0x8000000000000000 for NaN and out-of-range values).</summary>
internal static unsafe class SseConvert
{
    /// <summary>Writes the low element of <paramref name="d"/> (the others unchanged) unless <paramref name="flags"/> raise an unmasked exception.</summary>
    private static void WriteLow<T>(X86Cpu c, ref XmmRegister d, T value, uint flags)
        where T : unmanaged
    {
        if (c.SimdExceptions(flags))
        {
            Unsafe.As<XmmRegister, T>(ref d) = value;
        }
    }

    /// <summary>CVTSI2SS / CVTSI2SD xmm, r/m32 or r/m64: the low element of the destination.</summary>
    public static void Cvtsi2s(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        int size = X86Cpu.OpSize(ref i, 1);
        if (!c.ReadOp(ref i, 1, size, out ulong v))
        {
            return;
        }

        long n = size == 4 ? (int)v : (long)v;
        double r = FromInt64(n, out int e);
        uint flags = 0;
        uint mx = c.Mxcsr;
        ref var d = ref c.Xmm(i.Op0Register);
        if (i.Mnemonic == Mnemonic.Cvtsi2ss)
        {
            WriteLow(c, ref d, Finish32(r, e, mx, ref flags), flags);
        }
        else
        {
            WriteLow(c, ref d, Finish64(r, e, mx, ref flags), flags);
        }
    }

    /// <summary>CVTSS2SI / CVTTSS2SI / CVTSD2SI / CVTTSD2SI r32/r64, xmm/m.</summary>
    public static void Cvts2si(X86Cpu c, ref Instruction i)
    {
        var m = i.Mnemonic;
        bool dbl = m is Mnemonic.Cvtsd2si or Mnemonic.Cvttsd2si;
        if (!c.SseAvailable() || !c.ReadScalarOperand(ref i, 1, dbl ? 8 : 4, out ulong s))
        {
            return;
        }

        bool trunc = m is Mnemonic.Cvttss2si or Mnemonic.Cvttsd2si;

        uint mx = c.Mxcsr, flags = 0;
        int bits = X86Cpu.RegSize(i.Op0Register) * 8;
        double x = dbl ? IntegerSource<Binary64, ulong>(s, mx) : IntegerSource<Binary32, uint>((uint)s, mx);
        ulong v = ToInt(x, bits, trunc, mx, ref flags);
        if (c.SimdExceptions(flags))
        {
            c.SetReg(i.Op0Register, v);
        }
    }

    /// <summary>CVTSS2SD / CVTSD2SS xmm, xmm/m: the low element, the rest of the destination unchanged.</summary>
    public static void ScalarPrecision(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        bool toDouble = i.Mnemonic == Mnemonic.Cvtss2sd;
        if (!c.ReadScalarOperand(ref i, 1, toDouble ? 4 : 8, out ulong s))
        {
            return;
        }

        uint flags = 0;
        ref var d = ref c.Xmm(i.Op0Register);
        if (toDouble)
        {
            WriteLow(c, ref d, SingleToDouble((uint)s, c.Mxcsr, ref flags), flags);
        }
        else
        {
            WriteLow(c, ref d, DoubleToSingle(s, c.Mxcsr, ref flags), flags);
        }
    }

    /// <summary>The packed conversions: CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ, CVTDQ2PD, CVTPD2DQ, CVTTPD2DQ, CVTPS2PD, CVTPD2PS.
    /// CVTDQ2PD and CVTPS2PD read xmm/m64; the PD-to-32-bit forms zero the upper half of the destination.</summary>
    public static void Packed(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        var m = i.Mnemonic;
        XmmRegister s;
        if (m is Mnemonic.Cvtdq2pd or Mnemonic.Cvtps2pd)
        {
            if (!c.ReadScalarOperand(ref i, 1, 8, out ulong lo))
            {
                return;
            }

            s = new XmmRegister(lo, 0);
        }
        else if (!c.ReadXmmOperand(ref i, 1, true, out s))
        {
            return;
        }

        uint mx = c.Mxcsr, flags = 0;
        XmmRegister r = default;
        uint* x = (uint*)&s, z = (uint*)&r;
        switch (m)
        {
            case Mnemonic.Cvtdq2ps:
                for (int k = 0; k < 4; k++)
                {
                    z[k] = Finish32((int)x[k], 0, mx, ref flags);
                }

                break;
            case Mnemonic.Cvtps2dq:
            case Mnemonic.Cvttps2dq:
                for (int k = 0; k < 4; k++)
                {
                    z[k] = (uint)ToInt(IntegerSource<Binary32, uint>(x[k], mx), 32, m == Mnemonic.Cvttps2dq, mx, ref flags);
                }

                break;
            case Mnemonic.Cvtdq2pd:
                r = new XmmRegister(BitConverter.DoubleToUInt64Bits((int)x[0]), BitConverter.DoubleToUInt64Bits((int)x[1]));
                break;
            case Mnemonic.Cvtpd2dq:
            case Mnemonic.Cvttpd2dq:
                z[0] = (uint)ToInt(IntegerSource<Binary64, ulong>(s.Lo, mx), 32, m == Mnemonic.Cvttpd2dq, mx, ref flags);
                z[1] = (uint)ToInt(IntegerSource<Binary64, ulong>(s.Hi, mx), 32, m == Mnemonic.Cvttpd2dq, mx, ref flags);
                break;
            case Mnemonic.Cvtps2pd:
            {
                ulong lo = SingleToDouble(x[0], mx, ref flags);
                ulong hi = SingleToDouble(x[1], mx, ref flags);
                r = new XmmRegister(lo, hi);
                break;
            }

            default: // Cvtpd2ps
                z[0] = DoubleToSingle(s.Lo, mx, ref flags);
                z[1] = DoubleToSingle(s.Hi, mx, ref flags);
                break;
        }

        if (c.SimdExceptions(flags))
        {
            c.Xmm(i.Op0Register) = r;
        }
    }
}

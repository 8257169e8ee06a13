using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>MXCSR access (LDMXCSR/STMXCSR), FXSAVE/FXRSTOR (the 512-byte legacy region, SDM Vol. 1 table
/// 10-2/10-3) and EMMS.</summary>
internal static class SseState
{
    /// <summary>LDMXCSR m32: #GP(0) when a reserved bit (above bit 15) is set.</summary>
    public static void Ldmxcsr(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable() || !c.Read(X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), 4, out ulong v))
        {
            return;
        }

        if ((v & ~(ulong)X86Cpu.MxcsrMask) != 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        c.Mxcsr = (uint)v;
    }

    /// <summary>STMXCSR m32.</summary>
    public static void Stmxcsr(X86Cpu c, ref Instruction i)
    {
        if (c.SseAvailable())
        {
            c.Write(X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), 4, c.Mxcsr);
        }
    }

    /// <summary>EMMS: marks every x87 register empty (CR0.EM #UD, CR0.TS #NM, pending x87 exception #MF).</summary>
    public static void Emms(X86Cpu c, ref Instruction i)
    {
        if (c.MmxCheck())
        {
            c.Fpu.ValidMask = 0;
        }
    }

    /// <summary>
    /// FXSAVE / FXSAVE64 m512: #NM when CR0.EM or CR0.TS; #GP(0) when not 16-byte aligned. The 32-bit
    /// format stores FIP/FDP as 32-bit offsets with FCS/FDS, the 64-bit (REX.W) format as 64-bit
    /// offsets. XMM8-15 are stored only in 64-bit mode. Bytes 464-511 are left untouched (software-available).
    /// </summary>
    public static void Fxsave(X86Cpu c, ref Instruction i)
    {
        if (!c.FpuAvailable())
        {
            return;
        }

        int seg = X86Cpu.MemorySegment(ref i);
        if (!c.CheckBlock(seg, c.EffectiveAddress(ref i), 512, 16, AccessKind.Write, out ulong linear))
        {
            return;
        }

        ref var f = ref c.Fpu;
        bool wide = i.Mnemonic == Mnemonic.Fxsave64;
        ulong w0 = f.Fcw | ((ulong)f.Fsw << 16) | ((ulong)f.ValidMask << 32) | ((ulong)(f.Fop & 0x7FF) << 48);
        ulong w1 = wide ? f.Fip : (uint)f.Fip | ((ulong)f.Fcs << 32);
        ulong w2 = wide ? f.Fdp : (uint)f.Fdp | ((ulong)f.Fds << 32);
        ulong w3 = c.Mxcsr | ((ulong)X86Cpu.MxcsrMask << 32);
        c.WriteLinear(linear, 8, w0);
        c.WriteLinear(linear + 8, 8, w1);
        c.WriteLinear(linear + 16, 8, w2);
        c.WriteLinear(linear + 24, 8, w3);
        int top = f.Top;
        for (int k = 0; k < 8; k++)
        {
            var r = f.R[(top + k) & 7];
            c.WriteLinear(linear + 32 + (ulong)(16 * k), 8, r.Significand);
            c.WriteLinear(linear + 40 + (ulong)(16 * k), 8, r.SignExponent);
        }

        int xmmCount = c.Bitness == 64 ? 16 : 8;
        for (int k = 0; k < xmmCount; k++)
        {
            var x = c.Regs.Xmm[k];
            c.WriteLinear(linear + 160 + (ulong)(16 * k), 8, x.Lo);
            c.WriteLinear(linear + 168 + (ulong)(16 * k), 8, x.Hi);
        }

        for (ulong off = 160 + (ulong)(16 * xmmCount); off < 464; off += 8)
        {
            c.WriteLinear(linear + off, 8, 0);
        }
    }

    /// <summary>FXRSTOR / FXRSTOR64 m512: #GP(0) when misaligned or when the MXCSR image sets a reserved bit.</summary>
    public static void Fxrstor(X86Cpu c, ref Instruction i)
    {
        if (!c.FpuAvailable())
        {
            return;
        }

        int seg = X86Cpu.MemorySegment(ref i);
        if (!c.CheckBlock(seg, c.EffectiveAddress(ref i), 512, 16, AccessKind.Read, out ulong linear))
        {
            return;
        }

        if (!c.ReadLinear(linear, 8, out ulong w0) || !c.ReadLinear(linear + 8, 8, out ulong w1)
            || !c.ReadLinear(linear + 16, 8, out ulong w2) || !c.ReadLinear(linear + 24, 8, out ulong w3))
        {
            return;
        }

        if ((w3 & 0xFFFFFFFF & ~(ulong)X86Cpu.MxcsrMask) != 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        Span<Float80> st = stackalloc Float80[8];
        for (int k = 0; k < 8; k++)
        {
            if (!c.ReadLinear(linear + 32 + (ulong)(16 * k), 8, out ulong m) || !c.ReadLinear(linear + 40 + (ulong)(16 * k), 2, out ulong se))
            {
                return;
            }

            st[k] = new Float80 { Significand = m, SignExponent = (ushort)se };
        }

        int xmmCount = c.Bitness == 64 ? 16 : 8;
        Span<XmmRegister> xmm = stackalloc XmmRegister[16];
        for (int k = 0; k < xmmCount; k++)
        {
            if (!c.ReadLinear(linear + 160 + (ulong)(16 * k), 8, out ulong lo) || !c.ReadLinear(linear + 168 + (ulong)(16 * k), 8, out ulong hi))
            {
                return;
            }

            xmm[k] = new XmmRegister(lo, hi);
        }

        bool wide = i.Mnemonic == Mnemonic.Fxrstor64;
        ref var f = ref c.Fpu;
        f.Fcw = (ushort)w0;
        f.Fsw = (ushort)(w0 >> 16);
        f.ValidMask = (byte)(w0 >> 32);
        f.Fop = (ushort)((w0 >> 48) & 0x7FF);
        f.Fip = wide ? w1 : (uint)w1;
        f.Fcs = wide ? (ushort)0 : (ushort)(w1 >> 32);
        f.Fdp = wide ? w2 : (uint)w2;
        f.Fds = wide ? (ushort)0 : (ushort)(w2 >> 32);
        int top = f.Top;
        for (int k = 0; k < 8; k++)
        {
            f.R[(top + k) & 7] = st[k];
        }

        c.Mxcsr = (uint)w3;
        for (int k = 0; k < xmmCount; k++)
        {
            c.Regs.Xmm[k] = xmm[k];
        }
    }
}

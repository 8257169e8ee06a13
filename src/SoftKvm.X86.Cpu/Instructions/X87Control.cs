using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>x87 control: FNINIT/FINIT, FNCLEX/FCLEX, FNSTCW/FSTCW, FLDCW, FNSTSW/FSTSW (m16 and AX), FNSTENV/FSTENV,
/// FLDENV, FNSAVE/FSAVE, FRSTOR, WAIT/FWAIT, FINCSTP/FDECSTP and the no-ops (FNOP, and FENI/FDISI/FSETPM which are FNOP after the 287).</summary>
internal static class X87Control
{
    private static bool IsWaitForm(ref Instruction i) => i.Mnemonic is Mnemonic.Finit or Mnemonic.Fclex or Mnemonic.Fstcw
        or Mnemonic.Fstsw or Mnemonic.Fstenv or Mnemonic.Fsave or Mnemonic.Feni or Mnemonic.Fdisi or Mnemonic.Fsetpm;

    /// <summary>WAIT/FWAIT: #NM when CR0.MP and CR0.TS are set; #MF when an unmasked x87 exception is pending.</summary>
    public static void Wait(X86Cpu c, ref Instruction i)
    {
        if (c.WaitAvailable() && (c.Fpu.Fsw & X86Cpu.FswEs) != 0)
        {
            c.Fault(ExceptionVector.MF);
        }
    }

    /// <summary>FNINIT / FINIT: FCW 0x037F, FSW 0, all registers empty, pointers cleared.</summary>
    public static void Init(X86Cpu c, ref Instruction i)
    {
        if (c.X87Begin(ref i, IsWaitForm(ref i), true))
        {
            var regs = c.Fpu.R;
            c.Fpu = X87State.Initial();
            c.Fpu.R = regs;
        }
    }

    /// <summary>FNCLEX / FCLEX: clears the exception flags, SF, ES and B.</summary>
    public static void Clex(X86Cpu c, ref Instruction i)
    {
        if (c.X87Begin(ref i, IsWaitForm(ref i), true))
        {
            c.Fpu.Fsw &= 0x7F00;
        }
    }

    /// <summary>FNSTCW / FSTCW m16.</summary>
    public static void Stcw(X86Cpu c, ref Instruction i)
    {
        if (c.X87Begin(ref i, IsWaitForm(ref i), true))
        {
            c.WriteOp(ref i, 0, 2, c.Fpu.Fcw);
        }
    }

    /// <summary>FLDCW m16 (bit 6 reads as 1; unmasking a set flag makes it pending).</summary>
    public static void Ldcw(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, false, true) || !c.ReadOp(ref i, 0, 2, out ulong v))
        {
            return;
        }

        c.Fpu.Fcw = (ushort)((v & 0x1F3F) | 0x40);
        c.X87UpdateSummary();
    }

    /// <summary>FNSTSW / FSTSW m16 or AX.</summary>
    public static void Stsw(X86Cpu c, ref Instruction i)
    {
        if (c.X87Begin(ref i, IsWaitForm(ref i), true))
        {
            c.WriteOp(ref i, 0, 2, c.Fpu.Fsw);
        }
    }

    /// <summary>FNOP (a waiting instruction despite its name: a pending exception raises #MF), FENI/FNENI,
    /// FDISI/FNDISI, FSETPM/FNSETPM (no operation on a 387 or later, after the #NM check).</summary>
    public static void Nop(X86Cpu c, ref Instruction i)
    {
        bool fnop = i.Mnemonic == Mnemonic.Fnop;
        c.X87Begin(ref i, fnop || IsWaitForm(ref i), !fnop);
    }

    /// <summary>FINCSTP / FDECSTP: TOP + 1 / TOP - 1 (tags unchanged).</summary>
    public static void IncDecStp(X86Cpu c, ref Instruction i)
    {
        if (c.X87Begin(ref i, true, false))
        {
            c.SetFpuTop(c.FpuTop + (i.Mnemonic == Mnemonic.Fincstp ? 1 : -1));
            c.Fpu.Fsw &= unchecked((ushort)~X86Cpu.FswC1);
        }
    }

    /// <summary>The full tag word (2 bits per physical register: valid, zero, special, empty).</summary>
    private static ushort FullTagWord(X86Cpu c)
    {
        ref var f = ref c.Fpu;
        int tw = 0;
        for (int k = 0; k < 8; k++)
        {
            int tag = ((f.ValidMask >> k) & 1) == 0 ? 3 : X87Math.Tag(f.R[k]);
            tw |= tag << (2 * k);
        }

        return (ushort)tw;
    }

    private static bool RealModeLayout(X86Cpu c) => (c.Regs.Cr0 & 1) == 0 || (c.Regs.Rflags & Rflags.VM) != 0;

    /// <summary>
    /// FNSTENV / FSTENV m14/m28: the protected-mode or real-mode environment layout (SDM Vol. 1 figures 8-9 to
    /// 8-12) for the operand size; then masks every exception, as the hardware does. Reserved halves read 0xFFFF.
    /// </summary>
    public static void Stenv(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, IsWaitForm(ref i), true))
        {
            return;
        }

        bool big = i.MemorySize == MemorySize.FpuEnv28;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (!c.CheckBlock(seg, ea, big ? 28 : 14, 1, AccessKind.Write, out _))
        {
            return;
        }

        StoreEnvironment(c, seg, ea, big);
        c.Fpu.Fcw |= 0x3F;
        c.X87UpdateSummary();
    }

    /// <summary>FNSAVE / FSAVE m94/m108: the environment, then ST(0)-ST(7) as 10-byte values; then FNINIT.</summary>
    public static void Save(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, i.Mnemonic == Mnemonic.Fsave, true))
        {
            return;
        }

        bool big = i.MemorySize == MemorySize.FpuState108;
        int env = big ? 28 : 14;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (!c.CheckBlock(seg, ea, env + 80, 1, AccessKind.Write, out _))
        {
            return;
        }

        StoreEnvironment(c, seg, ea, big);
        for (int k = 0; k < 8; k++)
        {
            var r = c.St(k);
            c.Write(seg, ea + (ulong)(env + 10 * k), 8, r.Significand);
            c.Write(seg, ea + (ulong)(env + 10 * k + 8), 2, r.SignExponent);
        }

        var regs = c.Fpu.R;
        c.Fpu = X87State.Initial();
        c.Fpu.R = regs;
    }

    /// <summary>FRSTOR m94/m108: the environment, then ST(0)-ST(7) relative to the loaded TOP.</summary>
    public static void Restore(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, false, true))
        {
            return;
        }

        bool big = i.MemorySize == MemorySize.FpuState108;
        int env = big ? 28 : 14;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        Span<Float80> st = stackalloc Float80[8];
        for (int k = 0; k < 8; k++)
        {
            if (!c.Read(seg, ea + (ulong)(env + 10 * k), 8, out ulong m) || !c.Read(seg, ea + (ulong)(env + 10 * k + 8), 2, out ulong se))
            {
                return;
            }

            st[k] = new Float80 { Significand = m, SignExponent = (ushort)se };
        }

        if (!LoadEnvironment(c, seg, ea, big))
        {
            return;
        }

        for (int k = 0; k < 8; k++)
        {
            c.St(k) = st[k];
        }
    }

    /// <summary>FLDENV m14/m28: loads FCW, FSW, the tags (only "empty" matters to the model), and the pointers.</summary>
    public static void Ldenv(X86Cpu c, ref Instruction i)
    {
        if (c.X87Begin(ref i, false, true))
        {
            LoadEnvironment(c, X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), i.MemorySize == MemorySize.FpuEnv28);
        }
    }

    private static void StoreEnvironment(X86Cpu c, int seg, ulong ea, bool big)
    {
        ref var f = ref c.Fpu;
        Span<uint> w = stackalloc uint[7];
        bool real = RealModeLayout(c);
        uint fip = (uint)f.Fip, fdp = (uint)f.Fdp;
        w[0] = 0xFFFF0000u | f.Fcw;
        w[1] = 0xFFFF0000u | f.Fsw;
        w[2] = 0xFFFF0000u | FullTagWord(c);
        if (real)
        {
            w[3] = 0xFFFF0000u | (fip & 0xFFFF);
            w[4] = ((fip >> 16) << 12) | (uint)(f.Fop & 0x7FF);
            w[5] = 0xFFFF0000u | (fdp & 0xFFFF);
            w[6] = (fdp >> 16) << 12;
        }
        else
        {
            w[3] = fip;
            w[4] = f.Fcs | ((uint)(f.Fop & 0x7FF) << 16);
            w[5] = fdp;
            w[6] = 0xFFFF0000u | f.Fds;
        }

        for (int k = 0; k < 7; k++)
        {
            if (big)
            {
                c.Write(seg, ea + (ulong)(4 * k), 4, w[k]);
            }
            else
            {
                // The 16-bit protected-mode layout keeps FCS alone in its word (no FOP).
                ulong v = k == 4 && !real ? f.Fcs : w[k] & 0xFFFF;
                c.Write(seg, ea + (ulong)(2 * k), 2, v);
            }
        }
    }

    private static bool LoadEnvironment(X86Cpu c, int seg, ulong ea, bool big)
    {
        int step = big ? 4 : 2;
        Span<uint> w = stackalloc uint[7];
        for (int k = 0; k < 7; k++)
        {
            if (!c.Read(seg, ea + (ulong)(step * k), step, out ulong v))
            {
                return false;
            }

            w[k] = (uint)v;
        }

        ref var f = ref c.Fpu;
        f.Fcw = (ushort)((w[0] & 0x1F3F) | 0x40);
        f.Fsw = (ushort)w[1];
        byte valid = 0;
        for (int k = 0; k < 8; k++)
        {
            if (((w[2] >> (2 * k)) & 3) != 3)
            {
                valid |= (byte)(1 << k);
            }
        }

        f.ValidMask = valid;
        if (RealModeLayout(c))
        {
            f.Fip = big ? (w[3] & 0xFFFF) | ((w[4] >> 12) << 16) : w[3] & 0xFFFF;
            f.Fop = (ushort)(w[4] & 0x7FF);
            f.Fdp = big ? (w[5] & 0xFFFF) | ((w[6] >> 12) << 16) : w[5] & 0xFFFF;
        }
        else
        {
            f.Fip = w[3];
            f.Fcs = (ushort)w[4];
            f.Fop = big ? (ushort)((w[4] >> 16) & 0x7FF) : f.Fop;
            f.Fdp = w[5];
            f.Fds = (ushort)w[6];
        }

        c.X87UpdateSummary();
        return true;
    }
}

using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>x87 control: FNINIT/FINIT, FNCLEX/FCLEX, FNSTCW/FSTCW, FLDCW, FNSTSW/FSTSW (m16 and AX), FNSTENV/FSTENV,
/// FLDENV, WAIT/FWAIT, FINCSTP/FDECSTP and the no-ops (FNOP, and FENI/FDISI/FSETPM which are FNOP after the 287).</summary>
internal static class X87Control
{
    private static bool IsWaitForm(ref Instruction i) => i.Mnemonic is Mnemonic.Finit or Mnemonic.Fclex or Mnemonic.Fstcw
        or Mnemonic.Fstsw or Mnemonic.Fstenv or Mnemonic.Feni or Mnemonic.Fdisi;

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

    /// <summary>FNOP, FENI/FNENI, FDISI/FNDISI, FSETPM (no operation on a 387 or later, after the #NM check).</summary>
    public static void Nop(X86Cpu c, ref Instruction i) => c.X87Begin(ref i, IsWaitForm(ref i), i.Mnemonic != Mnemonic.Fnop);

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
        int size = big ? 28 : 14;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (!c.CheckBlock(seg, ea, size, 1, AccessKind.Write, out _))
        {
            return;
        }

        ref var f = ref c.Fpu;
        Span<uint> w = stackalloc uint[7];
        ushort tw = FullTagWord(c);
        uint fip = (uint)f.Fip, fdp = (uint)f.Fdp;
        w[0] = 0xFFFF0000u | f.Fcw;
        w[1] = 0xFFFF0000u | f.Fsw;
        w[2] = 0xFFFF0000u | tw;
        if (RealModeLayout(c))
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
                ulong v = w[k] & 0xFFFF;
                if (k == 4 && !RealModeLayout(c))
                {
                    v = f.Fcs;
                }
                else if (k == 4)
                {
                    v = w[4] & 0xFFFF;
                }
                else if (k == 6 && RealModeLayout(c))
                {
                    v = w[6] & 0xFFFF;
                }

                c.Write(seg, ea + (ulong)(2 * k), 2, v);
            }
        }

        f.Fcw |= 0x3F;
        c.X87UpdateSummary();
    }

    /// <summary>FLDENV m14/m28: loads FCW, FSW, the tags (only "empty" matters to the model), and the pointers.</summary>
    public static void Ldenv(X86Cpu c, ref Instruction i)
    {
        if (!c.X87Begin(ref i, false, true))
        {
            return;
        }

        bool big = i.MemorySize == MemorySize.FpuEnv28;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        int step = big ? 4 : 2;
        Span<uint> w = stackalloc uint[7];
        for (int k = 0; k < 7; k++)
        {
            if (!c.Read(seg, ea + (ulong)(step * k), step, out ulong v))
            {
                return;
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
    }
}

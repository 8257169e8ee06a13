using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>MOV to/from CRn and DRn, HLT, CPUID, RDTSC(P), RDMSR, WRMSR, LGDT/LIDT/SGDT/SIDT,
/// LLDT/SLDT/LTR/STR, INVLPG, WBINVD/INVD, CLTS, LMSW/SMSW, SWAPGS, and the no-operation group.</summary>
internal static class SystemOps
{
    private static bool RequireCpl0(X86Cpu c) => c.Cpl == 0 || c.Fault(ExceptionVector.GP, 0, true);

    public static void MovToControl(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        var reg = i.Op0Register;
        ulong v = c.GetReg(i.Op1Register);
        if (reg.IsCR())
        {
            c.WriteControlRegister(reg - Register.CR0, v);
        }
        else if (CheckDebugRegister(c, reg - Register.DR0))
        {
            c.WriteDebugRegister(reg - Register.DR0, v);
        }
    }

    public static void MovFromControl(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        var reg = i.Op1Register;
        ref var r = ref c.Regs;
        ulong v;
        if (reg.IsCR())
        {
            v = (reg - Register.CR0) switch
            {
                0 => r.Cr0,
                2 => r.Cr2,
                3 => r.Cr3,
                4 => r.Cr4,
                8 => r.Cr8,
                _ => 0,
            };
            int n = reg - Register.CR0;
            if (n is 1 or 5 or 6 or 7 or > 8)
            {
                c.Fault(ExceptionVector.UD);
                return;
            }
        }
        else
        {
            int n = reg - Register.DR0;
            if (!CheckDebugRegister(c, n))
            {
                return;
            }

            v = n switch
            {
                < 4 => r.Dr[n],
                4 or 6 => r.Dr6,
                _ => r.Dr7,
            };
        }

        c.SetReg(i.Op0Register, v);
    }

    /// <summary>
    /// The checks of MOV to or from DR<paramref name="n"/> after the CPL check, in the order of KVM's
    /// emulator (check_dr_read/write): #UD for DR4/DR5 with CR4.DE (and a register above DR7), then the
    /// general-detect #DB when DR7.GD is set. False with the fault recorded.
    /// </summary>
    private static bool CheckDebugRegister(X86Cpu c, int n)
    {
        if (n > 7 || (n is 4 or 5 && (c.Regs.Cr4 & 8) != 0))
        {
            return c.Fault(ExceptionVector.UD);
        }

        return c.CheckGeneralDetect();
    }

    public static void Hlt(X86Cpu c, ref Instruction i)
    {
        if (RequireCpl0(c))
        {
            c.ExitWith(X86ExitReason.Hlt);
        }
    }

    public static void Cpuid(X86Cpu c, ref Instruction i)
    {
        if (c.Controls.InterceptCpuid)
        {
            c.ExitWith(X86ExitReason.Cpuid);
            return;
        }

        c.ExecuteCpuid();
    }

    public static void Rdtsc(X86Cpu c, ref Instruction i)
    {
        if ((c.Regs.Cr4 & 4) != 0 && c.Cpl != 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        ulong t = c.ReadTsc();
        c.SetGpr(Gpr.Rax, 4, t);
        c.SetGpr(Gpr.Rdx, 4, t >> 32);
        if (i.Mnemonic == Mnemonic.Rdtscp)
        {
            c.SetGpr(Gpr.Rcx, 4, c.Regs.TscAux);
        }
    }

    public static void Rdmsr(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        uint index = (uint)c.Regs.Gpr[Gpr.Rcx];
        if (c.Controls.InterceptMsrs || !c.TryReadMsr(index, out ulong v))
        {
            c.ExitWith(X86ExitReason.Rdmsr);
            return;
        }

        c.SetGpr(Gpr.Rax, 4, v);
        c.SetGpr(Gpr.Rdx, 4, v >> 32);
    }

    public static void Wrmsr(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        uint index = (uint)c.Regs.Gpr[Gpr.Rcx];
        ulong v = (c.Regs.Gpr[Gpr.Rax] & 0xFFFFFFFF) | (c.Regs.Gpr[Gpr.Rdx] << 32);
        if (c.Controls.InterceptMsrs)
        {
            c.ExitWith(X86ExitReason.Wrmsr);
            return;
        }

        if (!c.TryWriteMsr(index, v) && !c.TryFastMsrWrite(index, v))
        {
            c.ExitWith(X86ExitReason.Wrmsr);
        }
    }

    public static void LoadDescriptorTable(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        int baseSize = c.Bitness == 64 ? 8 : 4;
        if (!c.Read(seg, ea, 2, out ulong limit) || !c.Read(seg, ea + 2, baseSize, out ulong b))
        {
            return;
        }

        if (c.Bitness == 16 && i.CodeSize != CodeSize.Code32 && (i.Code == Code.Lgdt_m1632_16 || i.Code == Code.Lidt_m1632_16))
        {
            b &= 0xFFFFFF;
        }

        if (c.Bitness == 64 && !X86Cpu.IsCanonical(b))
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        ref var t = ref i.Mnemonic == Mnemonic.Lgdt ? ref c.Regs.Gdtr : ref c.Regs.Idtr;
        t.Base = b;
        t.Limit = (ushort)limit;
    }

    public static void StoreDescriptorTable(X86Cpu c, ref Instruction i)
    {
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        ref var t = ref i.Mnemonic == Mnemonic.Sgdt ? ref c.Regs.Gdtr : ref c.Regs.Idtr;
        int baseSize = c.Bitness == 64 ? 8 : 4;
        if (c.ProbeWrite(seg, ea, 2 + baseSize) && c.Write(seg, ea, 2, t.Limit))
        {
            c.Write(seg, ea + 2, baseSize, t.Base);
        }
    }

    public static void Lldt(X86Cpu c, ref Instruction i)
    {
        if (!c.ProtectedMode)
        {
            c.Fault(ExceptionVector.UD);
            return;
        }

        if (!RequireCpl0(c) || !c.ReadOp(ref i, 0, 2, out ulong sel))
        {
            return;
        }

        c.LoadSystemSegment((ushort)sel, false);
    }

    public static void Ltr(X86Cpu c, ref Instruction i)
    {
        if (!c.ProtectedMode)
        {
            c.Fault(ExceptionVector.UD);
            return;
        }

        if (!RequireCpl0(c) || !c.ReadOp(ref i, 0, 2, out ulong sel))
        {
            return;
        }

        c.LoadSystemSegment((ushort)sel, true);
    }

    public static void Verr(X86Cpu c, ref Instruction i) => VerifySegment(c, ref i, write: false);

    public static void Verw(X86Cpu c, ref Instruction i) => VerifySegment(c, ref i, write: true);

    /// <summary>
    /// VERR/VERW (SDM Vol. 2B): ZF = 1 when the selector names a code or data segment the current CPL and the
    /// selector's RPL may use (any level for a conforming code segment) that is readable (VERR: data, or code
    /// with R) or writable (VERW: data with W); ZF = 0 for a null selector, one past the table's limit, an LDT
    /// selector without an LDT, or a system segment. Presence is not checked and nothing faults but the operand
    /// and descriptor reads. #UD outside protected mode. Linux's CLEAR_CPU_BUFFERS is a VERW.
    /// </summary>
    private static void VerifySegment(X86Cpu c, ref Instruction i, bool write)
    {
        if (!c.ProtectedMode)
        {
            c.Fault(ExceptionVector.UD);
            return;
        }

        if (!c.ReadOp(ref i, 0, 2, out ulong value))
        {
            return;
        }

        ushort sel = (ushort)value;
        ref var r = ref c.Regs;
        bool ldt = (sel & 4) != 0;
        ulong offset = (ulong)(sel & 0xFFF8);
        bool inTable = ldt
            ? (r.Ldtr.Attributes & (SegmentRegister.Unusable | SegmentRegister.Present)) == SegmentRegister.Present && offset + 7 <= r.Ldtr.Limit
            : (sel & 0xFFFC) != 0 && offset + 7 <= r.Gdtr.Limit;
        bool ok = false;
        if (inTable)
        {
            if (!c.ReadSystem((ldt ? r.Ldtr.Base : r.Gdtr.Base) + offset, 8, out ulong d))
            {
                return;
            }

            uint type = (uint)(d >> 40) & 0xF;
            bool codeOrData = (d & (1UL << 44)) != 0;
            bool code = (type & 8) != 0;
            bool conforming = code && (type & 4) != 0;
            int dpl = (int)(d >> 45) & 3;
            bool mayUse = conforming || (c.Cpl <= dpl && (sel & 3) <= dpl);
            bool allowed = write ? !code && (type & 2) != 0 : !code || (type & 2) != 0;
            ok = codeOrData && mayUse && allowed;
        }

        c.SetFlags(Rflags.ZF, ok ? Rflags.ZF : 0);
    }

    public static void Sldt(X86Cpu c, ref Instruction i)
    {
        int size = i.Op0Kind == OpKind.Register ? X86Cpu.RegSize(i.Op0Register) : 2;
        c.WriteOp(ref i, 0, size, c.Regs.Ldtr.Selector);
    }

    public static void Str(X86Cpu c, ref Instruction i)
    {
        int size = i.Op0Kind == OpKind.Register ? X86Cpu.RegSize(i.Op0Register) : 2;
        c.WriteOp(ref i, 0, size, c.Regs.Tr.Selector);
    }

    public static void Invlpg(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        ulong ea = c.EffectiveAddress(ref i);
        int seg = X86Cpu.MemorySegment(ref i);
        ulong linear = c.Bitness == 64 ? (seg >= SegmentIndex.Fs ? ea + c.Regs.Seg[seg].Base : ea) : (c.Regs.Seg[seg].Base + ea) & 0xFFFFFFFF;
        c.InvalidatePage(linear);
    }

    public static void Privileged(X86Cpu c, ref Instruction i)
    {
        // WBINVD, INVD: caches are coherent in the model; CPL 0 only.
        RequireCpl0(c);
    }

    public static void Clts(X86Cpu c, ref Instruction i)
    {
        if (RequireCpl0(c))
        {
            c.Regs.Cr0 &= ~8UL;
        }
    }

    public static void Lmsw(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c) || !c.ReadOp(ref i, 0, 2, out ulong v))
        {
            return;
        }

        // LMSW can set PE but not clear it, and touches only MP, EM, TS.
        ulong cr0 = (c.Regs.Cr0 & ~0xEUL) | (v & 0xF) | (c.Regs.Cr0 & 1);
        c.WriteControlRegister(0, cr0);
    }

    public static void Smsw(X86Cpu c, ref Instruction i)
    {
        int size = i.Op0Kind == OpKind.Register ? X86Cpu.RegSize(i.Op0Register) : 2;
        c.WriteOp(ref i, 0, size, c.Regs.Cr0);
    }

    public static void Swapgs(X86Cpu c, ref Instruction i)
    {
        if (!RequireCpl0(c))
        {
            return;
        }

        ref var gs = ref c.Regs.Seg[SegmentIndex.Gs];
        (gs.Base, c.Regs.KernelGsBase) = (c.Regs.KernelGsBase, gs.Base);
    }

    public static void Nop(X86Cpu c, ref Instruction i)
    {
    }

    /// <summary>
    /// MFENCE: a full barrier. Guest loads and stores are the host's own plain accesses, and an x86 host (TSO) keeps loads
    /// in order with loads and stores with stores, which is all LFENCE and SFENCE ask of ordinary memory (no
    /// non-temporal store here is weaker than a plain one), so those two are no-ops; the one reordering TSO allows, a
    /// later load passing an earlier store still in the store buffer, is what MFENCE forbids (Dekker-style handshakes
    /// between vCPUs), so it is the host's full barrier.
    /// </summary>
    public static void Mfence(X86Cpu c, ref Instruction i) => Interlocked.MemoryBarrier();

    public static void Ud(X86Cpu c, ref Instruction i)
    {
        c.Fault(ExceptionVector.UD);
    }

    /// <summary>VMCALL in VMX non-root operation: a VM exit at any CPL (SDM Vol. 3C 25.1.2).</summary>
    public static void Vmcall(X86Cpu c, ref Instruction i)
    {
        c.ExitWith(X86ExitReason.Vmcall);
    }
}

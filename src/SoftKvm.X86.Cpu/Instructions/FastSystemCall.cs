using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>SYSCALL, SYSRET, SYSENTER, SYSEXIT (SDM Vol. 2 pseudo-code).</summary>
internal static class FastSystemCall
{
    private static SegmentRegister Flat(ushort sel, uint type, int dpl, bool longCode, bool big) => new()
    {
        Selector = sel,
        Base = 0,
        Limit = 0xFFFFFFFF,
        Attributes = type | SegmentRegister.CodeOrData | SegmentRegister.Present | ((uint)dpl << 5) | SegmentRegister.Granularity
            | (longCode ? SegmentRegister.LongMode : 0) | (big ? SegmentRegister.DefaultBig : 0),
    };

    public static void Syscall(X86Cpu c, ref Instruction i)
    {
        ref var r = ref c.Regs;
        if ((r.Efer & 1) == 0 || !c.LongModeActive)
        {
            // Legacy-mode SYSCALL (AMD only) is not modelled: #UD as on Intel.
            c.Fault(ExceptionVector.UD);
            return;
        }

        ushort sel = (ushort)(r.Star >> 32);
        r.Gpr[Gpr.Rcx] = c.NextRip;
        r.Gpr[11] = r.Rflags & ~Rflags.RF;
        ulong target = c.Bitness == 64 ? r.Lstar : r.Cstar;
        r.Rflags &= ~(r.Sfmask | Rflags.RF);
        r.Seg[SegmentIndex.Ss] = Flat((ushort)((sel + 8) & 0xFFFC), 3, 0, false, true);
        c.CommitCs(Flat((ushort)(sel & 0xFFFC), 0xB, 0, true, false));
        c.NextRip = target;
    }

    public static void Sysret(X86Cpu c, ref Instruction i)
    {
        ref var r = ref c.Regs;
        if ((r.Efer & 1) == 0 || !c.LongModeActive)
        {
            c.Fault(ExceptionVector.UD);
            return;
        }

        if (c.Cpl != 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        bool to64 = i.Code == Code.Sysretq;
        ulong rip = to64 ? r.Gpr[Gpr.Rcx] : r.Gpr[Gpr.Rcx] & 0xFFFFFFFF;
        if (to64 && !X86Cpu.IsCanonical(rip))
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        ushort sel = (ushort)(r.Star >> 48);
        r.Rflags = (r.Gpr[11] & 0x3C7FD7UL) | Rflags.Fixed1;
        r.Seg[SegmentIndex.Ss] = Flat((ushort)((sel + 8) | 3), 3, 3, false, true);
        c.CommitCs(to64 ? Flat((ushort)((sel + 16) | 3), 0xB, 3, true, false) : Flat((ushort)(sel | 3), 0xB, 3, false, true));
        c.NextRip = rip;
    }

    public static void Sysenter(X86Cpu c, ref Instruction i)
    {
        ref var r = ref c.Regs;
        if (!c.ProtectedMode || (r.SysenterCs & 0xFFFC) == 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        ushort sel = (ushort)r.SysenterCs;
        bool lm = c.LongModeActive;
        r.Rflags &= ~(Rflags.VM | Rflags.IF | Rflags.RF);
        r.Seg[SegmentIndex.Ss] = Flat((ushort)((sel + 8) & 0xFFFC), 3, 0, false, true);
        c.CommitCs(Flat((ushort)(sel & 0xFFFC), 0xB, 0, lm, !lm));
        r.Gpr[Gpr.Rsp] = lm ? r.SysenterEsp : r.SysenterEsp & 0xFFFFFFFF;
        c.NextRip = lm ? r.SysenterEip : r.SysenterEip & 0xFFFFFFFF;
    }

    public static void Sysexit(X86Cpu c, ref Instruction i)
    {
        ref var r = ref c.Regs;
        if (!c.ProtectedMode || (r.SysenterCs & 0xFFFC) == 0 || c.Cpl != 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        bool to64 = i.Code == Code.Sysexitq;
        ushort sel = (ushort)r.SysenterCs;
        r.Seg[SegmentIndex.Ss] = Flat((ushort)((sel + (to64 ? 40 : 24)) | 3), 3, 3, false, true);
        c.CommitCs(Flat((ushort)((sel + (to64 ? 32 : 16)) | 3), 0xB, 3, to64, !to64));
        r.Gpr[Gpr.Rsp] = to64 ? r.Gpr[Gpr.Rcx] : r.Gpr[Gpr.Rcx] & 0xFFFFFFFF;
        c.NextRip = to64 ? r.Gpr[Gpr.Rdx] : r.Gpr[Gpr.Rdx] & 0xFFFFFFFF;
    }
}

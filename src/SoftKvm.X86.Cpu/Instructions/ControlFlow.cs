using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>JMP, Jcc, CALL, RET, LOOP/LOOPcc, JCXZ/JECXZ/JRCXZ, far JMP/CALL/RET, INT n, INT3, INTO, INT1, IRET.</summary>
internal static class ControlFlow
{
    private static readonly byte[] s_loopCounterSize = BuildLoopCounterSizes();

    private static byte[] BuildLoopCounterSizes()
    {
        var t = new byte[Enum.GetValues<Code>().Max(x => (int)x) + 1];
        foreach (var code in Enum.GetValues<Code>())
        {
            string n = code.ToString();
            if (n.StartsWith("Loop", StringComparison.Ordinal) || n.StartsWith("Jcxz", StringComparison.Ordinal)
                || n.StartsWith("Jecxz", StringComparison.Ordinal) || n.StartsWith("Jrcxz", StringComparison.Ordinal))
            {
                t[(int)code] = (byte)(n.EndsWith("_RCX", StringComparison.Ordinal) ? 8 : n.EndsWith("_ECX", StringComparison.Ordinal) ? 4 : 2);
            }
        }

        return t;
    }

    /// <summary>Sets the next RIP to a near target, with the CS limit or canonical check.</summary>
    private static bool Branch(X86Cpu c, ulong target)
    {
        if (c.Bitness == 64)
        {
            if (!X86Cpu.IsCanonical(target))
            {
                return c.Fault(ExceptionVector.GP, 0, true);
            }
        }
        else if (target > c.Regs.Seg[SegmentIndex.Cs].Limit)
        {
            return c.Fault(ExceptionVector.GP, 0, true);
        }

        c.NextRip = target;
        return true;
    }

    private static int NearOperandSize(X86Cpu c, ref Instruction i)
    {
        var k = i.Op0Kind;
        if (k == OpKind.NearBranch16)
        {
            return 2;
        }

        if (k == OpKind.NearBranch32)
        {
            return 4;
        }

        if (k == OpKind.NearBranch64)
        {
            return 8;
        }

        return X86Cpu.OpSize(ref i, 0);
    }

    private static bool Target(X86Cpu c, ref Instruction i, out ulong target)
    {
        var k = i.Op0Kind;
        if (k is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64)
        {
            target = i.NearBranchTarget;
            return true;
        }

        int size = X86Cpu.OpSize(ref i, 0);
        return c.ReadOp(ref i, 0, size, out target);
    }

    /// <summary>JMP and CALL to a far pointer (direct ptr16:16/32 or indirect m16:16/32/64); false for a near one.</summary>
    private static bool TryFar(X86Cpu c, ref Instruction i, bool call)
    {
        var k = i.Op0Kind;
        if (k is OpKind.FarBranch16 or OpKind.FarBranch32)
        {
            FarJump(c, i.FarBranchSelector, k == OpKind.FarBranch16 ? i.FarBranch16 : i.FarBranch32, call, k == OpKind.FarBranch16 ? 2 : 4);
            return true;
        }

        if (k == OpKind.Memory && i.MemorySize is MemorySize.SegPtr16 or MemorySize.SegPtr32 or MemorySize.SegPtr64)
        {
            IndirectFar(c, ref i, call);
            return true;
        }

        return false;
    }

    public static void Jmp(X86Cpu c, ref Instruction i)
    {
        if (!TryFar(c, ref i, false) && Target(c, ref i, out ulong t))
        {
            Branch(c, t);
        }
    }

    public static void Jcc(X86Cpu c, ref Instruction i)
    {
        if (c.Condition(i.ConditionCode))
        {
            Branch(c, i.NearBranchTarget);
        }
    }

    public static void Call(X86Cpu c, ref Instruction i)
    {
        if (TryFar(c, ref i, true))
        {
            return;
        }

        int size = NearOperandSize(c, ref i);
        if (!Target(c, ref i, out ulong t))
        {
            return;
        }

        ulong oldNext = c.NextRip;
        if (!Branch(c, t))
        {
            return;
        }

        ulong sp = c.StackPointer;
        if (!c.PushValue(oldNext, size, ref sp))
        {
            c.NextRip = oldNext;
            return;
        }

        c.CommitStackPointer(sp);
    }

    public static void Ret(X86Cpu c, ref Instruction i)
    {
        int size = i.Code switch
        {
            Code.Retnw or Code.Retnw_imm16 => 2,
            Code.Retnd or Code.Retnd_imm16 => 4,
            _ => 8,
        };
        ulong sp = c.StackPointer;
        if (!c.PopValue(size, ref sp, out ulong t) || !Branch(c, t))
        {
            return;
        }

        if (i.OpCount > 0)
        {
            sp = (sp + i.Immediate16) & X86Cpu.SizeMask(c.StackAddressSize);
        }

        c.CommitStackPointer(sp);
    }

    public static void Loop(X86Cpu c, ref Instruction i)
    {
        int size = s_loopCounterSize[(int)i.Code];
        ulong count = (c.GetGpr(Gpr.Rcx, size) - 1) & X86Cpu.SizeMask(size);
        bool zf = (c.Regs.Rflags & Rflags.ZF) != 0;
        bool take = count != 0 && i.Mnemonic switch
        {
            Mnemonic.Loope => zf,
            Mnemonic.Loopne => !zf,
            _ => true,
        };
        if (take && !Branch(c, i.NearBranchTarget))
        {
            return;
        }

        c.SetGpr(Gpr.Rcx, size, count);
    }

    public static void Jcxz(X86Cpu c, ref Instruction i)
    {
        int size = s_loopCounterSize[(int)i.Code];
        if (c.GetGpr(Gpr.Rcx, size) == 0)
        {
            Branch(c, i.NearBranchTarget);
        }
    }

    private static void IndirectFar(X86Cpu c, ref Instruction i, bool call)
    {
        int size = i.MemorySize switch { MemorySize.SegPtr16 => 2, MemorySize.SegPtr32 => 4, _ => 8 };
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (!c.Read(seg, ea, size, out ulong off) || !c.Read(seg, ea + (ulong)size, 2, out ulong sel))
        {
            return;
        }

        FarJump(c, (ushort)sel, off, call, size);
    }

    /// <summary>Far JMP or CALL to a code segment (real mode, protected mode, long mode). Gates are not implemented (#UD, counted).</summary>
    private static void FarJump(X86Cpu c, ushort selector, ulong offset, bool call, int size)
    {
        ulong retIp = c.NextRip;
        ushort retCs = c.Regs.Seg[SegmentIndex.Cs].Selector;
        if (!c.ProtectedMode)
        {
            ulong sp = c.StackPointer;
            if (call && (!c.PushValue(retCs, size, ref sp) || !c.PushValue(retIp, size, ref sp)))
            {
                return;
            }

            if (call)
            {
                c.CommitStackPointer(sp);
            }

            c.CommitRealCs(selector);
            c.NextRip = offset & X86Cpu.SizeMask(size);
            return;
        }

        if (!c.CheckCodeSegment(selector, c.Cpl, false, out var cs))
        {
            return;
        }

        bool targetLong = c.LongModeActive && cs.IsLong;
        if (targetLong ? !X86Cpu.IsCanonical(offset) : offset > cs.Limit)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        if (call)
        {
            ulong sp = c.StackPointer;
            if (!c.PushValue(retCs, size, ref sp) || !c.PushValue(retIp, size, ref sp))
            {
                return;
            }

            c.CommitStackPointer(sp);
        }

        c.CommitCs(cs);
        c.NextRip = targetLong ? offset : offset & 0xFFFFFFFF;
    }

    public static void RetFar(X86Cpu c, ref Instruction i)
    {
        int size = i.Code switch
        {
            Code.Retfw or Code.Retfw_imm16 => 2,
            Code.Retfd or Code.Retfd_imm16 => 4,
            _ => 8,
        };
        ulong imm = i.OpCount > 0 ? i.Immediate16 : 0UL;
        ulong sp = c.StackPointer;
        if (!c.PopValue(size, ref sp, out ulong ip) || !c.PopValue(size, ref sp, out ulong sel))
        {
            return;
        }

        if (!c.ProtectedMode)
        {
            c.CommitStackPointer((sp + imm) & X86Cpu.SizeMask(c.StackAddressSize));
            c.CommitRealCs((ushort)sel);
            c.NextRip = ip & X86Cpu.SizeMask(size);
            return;
        }

        int rpl = (int)sel & 3;
        if (!c.CheckCodeSegment((ushort)sel, rpl, true, out var cs))
        {
            return;
        }

        sp = (sp + imm) & X86Cpu.SizeMask(c.StackAddressSize);
        if (rpl > c.Cpl)
        {
            if (!c.PopValue(size, ref sp, out ulong newSp) || !c.PopValue(size, ref sp, out ulong newSs))
            {
                return;
            }

            int saved = c.Cpl;
            c.SetCplForChecks(rpl);
            bool ok = c.CheckDataSegment(SegmentIndex.Ss, (ushort)newSs, out var ss);
            c.SetCplForChecks(saved);
            if (!ok)
            {
                return;
            }

            c.CommitCs(cs);
            c.Regs.Seg[SegmentIndex.Ss] = ss;
            c.UpdateMode();
            c.SetGpr(Gpr.Rsp, c.LongModeActive && cs.IsLong ? 8 : ss.IsBig ? 4 : 2, newSp + imm);
            c.NullifyDataSegmentsForCpl();
        }
        else
        {
            c.CommitStackPointer(sp);
            c.CommitCs(cs);
        }

        c.NextRip = c.Bitness == 64 ? ip : ip & 0xFFFFFFFF;
    }

    public static void Int(X86Cpu c, ref Instruction i)
    {
        c.RequestSoftwareInterrupt(i.Immediate8, false);
    }

    public static void Int3(X86Cpu c, ref Instruction i)
    {
        c.RequestSoftwareInterrupt(ExceptionVector.BP, false);
    }

    public static void Into(X86Cpu c, ref Instruction i)
    {
        if ((c.Regs.Rflags & Rflags.OF) != 0)
        {
            c.RequestSoftwareInterrupt(ExceptionVector.OF, false);
        }
    }

    public static void Int1(X86Cpu c, ref Instruction i)
    {
        c.RequestSoftwareInterrupt(ExceptionVector.DB, true);
    }

    public static void Iret(X86Cpu c, ref Instruction i)
    {
        int size = i.Code switch { Code.Iretw => 2, Code.Iretd => 4, _ => 8 };
        c.InterruptReturn(size);
    }
}

using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE.</summary>
internal static class Stack
{
    public static void Push(X86Cpu c, ref Instruction i)
    {
        int size = -i.StackPointerIncrement;
        ulong v;
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            v = c.Regs.Seg[i.Op0Register - Register.ES].Selector;
            ulong sp = c.StackPointer;
            ulong nsp = (sp - (ulong)size) & X86Cpu.SizeMask(c.StackAddressSize);
            if (c.Write(SegmentIndex.Ss, nsp, 2, v))
            {
                c.CommitStackPointer(nsp);
            }

            return;
        }

        if (!c.ReadOp(ref i, 0, size, out v))
        {
            return;
        }

        c.Push(v, size);
    }

    public static void Pop(X86Cpu c, ref Instruction i)
    {
        int size = i.StackPointerIncrement;
        ulong sp = c.StackPointer;
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            int seg = i.Op0Register - Register.ES;
            if (!c.PopValue(size, ref sp, out ulong sel) || !c.LoadSegment(seg, (ushort)sel))
            {
                return;
            }

            c.CommitStackPointer(sp);
            if (seg == SegmentIndex.Ss)
            {
                c.Shadow = InterruptShadow.MovSs;
            }

            return;
        }

        if (!c.PopValue(size, ref sp, out ulong v))
        {
            return;
        }

        if (i.Op0Kind == OpKind.Memory)
        {
            // The address of POP m uses the incremented stack pointer (SDM POP).
            ulong old = c.Regs.Gpr[Gpr.Rsp];
            c.CommitStackPointer(sp);
            if (!c.WriteOp(ref i, 0, size, v))
            {
                c.Regs.Gpr[Gpr.Rsp] = old;
            }

            return;
        }

        c.CommitStackPointer(sp);
        c.SetReg(i.Op0Register, v);
    }

    public static void Pusha(X86Cpu c, ref Instruction i)
    {
        int size = i.Code == Code.Pushaw ? 2 : 4;
        ulong sp = c.StackPointer;
        ulong origSp = c.GetGpr(Gpr.Rsp, size);
        for (int r = 0; r < 8; r++)
        {
            if (!c.PushValue(r == Gpr.Rsp ? origSp : c.GetGpr(r, size), size, ref sp))
            {
                return;
            }
        }

        c.CommitStackPointer(sp);
    }

    public static void Popa(X86Cpu c, ref Instruction i)
    {
        int size = i.Code == Code.Popaw ? 2 : 4;
        ulong sp = c.StackPointer;
        Span<ulong> vals = stackalloc ulong[8];
        for (int r = 7; r >= 0; r--)
        {
            if (!c.PopValue(size, ref sp, out vals[r]))
            {
                return;
            }
        }

        for (int r = 0; r < 8; r++)
        {
            if (r != Gpr.Rsp)
            {
                c.SetGpr(r, size, vals[r]);
            }
        }

        c.CommitStackPointer(sp);
    }

    public static void Pushf(X86Cpu c, ref Instruction i)
    {
        int size = -i.StackPointerIncrement;
        c.Push(c.Regs.Rflags & ~(Rflags.VM | Rflags.RF), size);
    }

    public static void Popf(X86Cpu c, ref Instruction i)
    {
        int size = i.StackPointerIncrement;
        ulong sp = c.StackPointer;
        if (!c.PopValue(size, ref sp, out ulong v))
        {
            return;
        }

        c.CommitStackPointer(sp);
        c.WriteFlagsChecked(v, size, false);
    }

    public static void Enter(X86Cpu c, ref Instruction i)
    {
        int size = i.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterd_imm16_imm8 => 4, _ => 8 };
        ulong alloc = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        ulong sp = c.StackPointer;
        ulong bp = c.GetGpr(Gpr.Rbp, c.StackAddressSize);
        if (!c.PushValue(c.GetGpr(Gpr.Rbp, size), size, ref sp))
        {
            return;
        }

        ulong frame = sp;
        for (int n = 1; n < level; n++)
        {
            bp = (bp - (ulong)size) & X86Cpu.SizeMask(c.StackAddressSize);
            if (!c.Read(SegmentIndex.Ss, bp, size, out ulong v) || !c.PushValue(v, size, ref sp))
            {
                return;
            }
        }

        if (level > 0 && !c.PushValue(frame, size, ref sp))
        {
            return;
        }

        ulong newSp = (sp - alloc) & X86Cpu.SizeMask(c.StackAddressSize);
        if (alloc > 0 && !c.ProbeWrite(SegmentIndex.Ss, newSp, 1))
        {
            return;
        }

        c.SetGpr(Gpr.Rbp, size, frame);
        c.CommitStackPointer(newSp);
    }

    public static void Leave(X86Cpu c, ref Instruction i)
    {
        int size = i.Code switch { Code.Leavew => 2, Code.Leaved => 4, _ => 8 };
        ulong sp = c.GetGpr(Gpr.Rbp, c.StackAddressSize);
        if (!c.PopValue(size, ref sp, out ulong v))
        {
            return;
        }

        c.CommitStackPointer(sp);
        c.SetGpr(Gpr.Rbp, size, v);
    }
}

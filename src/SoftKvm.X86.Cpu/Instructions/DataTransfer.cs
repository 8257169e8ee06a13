using System.Buffers.Binary;
using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>MOV, MOVZX, MOVSX(D), LEA, XCHG, XADD, CMPXCHG(8B/16B), CMOVcc, SETcc, BSWAP, MOVBE,
/// CBW/CWDE/CDQE, CWD/CDQ/CQO, XLAT, segment register moves and LDS/LES/LFS/LGS/LSS.</summary>
internal static class DataTransfer
{
    /// <summary>MOV between general registers, memory and immediates (no segment, control or debug registers).</summary>
    public static void MovPlain(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (c.ReadOp(ref i, 1, size, out ulong v))
        {
            c.WriteOp(ref i, 0, size, v);
        }
    }

    public static void Mov(X86Cpu c, ref Instruction i)
    {
        if (i.Op0Register.IsTR() || i.Op1Register.IsTR())
        {
            // The 386/486 test registers do not exist on processors with CPUID.
            c.Fault(ExceptionVector.UD);
            return;
        }

        var k0 = i.Op0Kind;
        if (k0 == OpKind.Register)
        {
            var r0 = i.Op0Register;
            if (r0.IsSegmentRegister())
            {
                MovToSreg(c, ref i, r0);
                return;
            }

            if (r0.IsCR() || r0.IsDR())
            {
                SystemOps.MovToControl(c, ref i);
                return;
            }
        }

        if (i.Op1Kind == OpKind.Register)
        {
            var r1 = i.Op1Register;
            if (r1.IsSegmentRegister())
            {
                ushort sel = c.Regs.Seg[r1 - Register.ES].Selector;
                int sz = k0 == OpKind.Register ? X86Cpu.RegSize(i.Op0Register) : 2;
                c.WriteOp(ref i, 0, sz, sel);
                return;
            }

            if (r1.IsCR() || r1.IsDR())
            {
                SystemOps.MovFromControl(c, ref i);
                return;
            }
        }

        int size = X86Cpu.OpSize(ref i, 0);
        if (c.ReadOp(ref i, 1, size, out ulong v))
        {
            c.WriteOp(ref i, 0, size, v);
        }
    }

    private static void MovToSreg(X86Cpu c, ref Instruction i, Register r0)
    {
        int seg = r0 - Register.ES;
        if (seg == SegmentIndex.Cs)
        {
            c.Fault(ExceptionVector.UD);
            return;
        }

        if (!c.ReadOp(ref i, 1, 2, out ulong sel) || !c.LoadSegment(seg, (ushort)sel))
        {
            return;
        }

        if (seg == SegmentIndex.Ss)
        {
            c.Shadow = InterruptShadow.MovSs;
        }
    }

    public static void Movzx(X86Cpu c, ref Instruction i)
    {
        int src = X86Cpu.OpSize(ref i, 1);
        if (c.ReadOp(ref i, 1, src, out ulong v))
        {
            c.SetReg(i.Op0Register, v);
        }
    }

    public static void Movsx(X86Cpu c, ref Instruction i)
    {
        int src = X86Cpu.OpSize(ref i, 1);
        if (c.ReadOp(ref i, 1, src, out ulong v))
        {
            c.SetReg(i.Op0Register, Alu.SignExtend(v, src));
        }
    }

    public static void Lea(X86Cpu c, ref Instruction i)
    {
        c.SetReg(i.Op0Register, c.EffectiveAddress(ref i));
    }

    public static unsafe void Xchg(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (i.Op0Kind == OpKind.Memory)
        {
            // XCHG with memory is always locked.
            if (!c.LockedTarget(ref i, size, out byte* p))
            {
                return;
            }

            if (p != null)
            {
                ulong v = c.GetReg(i.Op1Register);
                ulong old;
                do
                {
                    old = X86Cpu.AtomicLoad(p, size);
                }
                while (X86Cpu.CompareExchange(p, size, v, old) != old);
                c.SetReg(i.Op1Register, old);
                return;
            }
        }

        if (!c.ReadOp(ref i, 0, size, out ulong a) || !c.ReadOp(ref i, 1, size, out ulong b))
        {
            return;
        }

        if (i.Op0Kind == OpKind.Memory)
        {
            if (c.WriteOp(ref i, 0, size, b))
            {
                c.SetReg(i.Op1Register, a);
            }

            return;
        }

        if (i.Op1Kind == OpKind.Memory)
        {
            if (c.WriteOp(ref i, 1, size, a))
            {
                c.SetReg(i.Op0Register, b);
            }

            return;
        }

        c.SetReg(i.Op0Register, b);
        c.SetReg(i.Op1Register, a);
    }

    public static unsafe void Xadd(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (i.HasLockPrefix && i.Op0Kind == OpKind.Memory)
        {
            if (!c.LockedTarget(ref i, size, out byte* p))
            {
                return;
            }

            if (p != null)
            {
                ulong src = c.GetReg(i.Op1Register);
                ulong old, sum, fl;
                do
                {
                    old = X86Cpu.AtomicLoad(p, size);
                    sum = Alu.Add(old, src, 0, size, out fl);
                }
                while (X86Cpu.CompareExchange(p, size, sum, old) != old);
                c.SetReg(i.Op1Register, old);
                c.SetStatus(fl);
                return;
            }
        }

        if (!c.ReadOpRmw(ref i, 0, size, out ulong a) || !c.ReadOp(ref i, 1, size, out ulong b))
        {
            return;
        }

        ulong r = Alu.Add(a, b, 0, size, out ulong flags);
        if (i.Op0Kind == OpKind.Memory)
        {
            if (!c.WriteOp(ref i, 0, size, r))
            {
                return;
            }

            c.SetReg(i.Op1Register, a);
        }
        else
        {
            c.SetReg(i.Op1Register, a);
            c.SetReg(i.Op0Register, r);
        }

        c.SetStatus(flags);
    }

    public static unsafe void Cmpxchg(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (i.HasLockPrefix && i.Op0Kind == OpKind.Memory)
        {
            if (!c.LockedTarget(ref i, size, out byte* p))
            {
                return;
            }

            if (p != null)
            {
                ulong expected = c.GetGpr(Gpr.Rax, size);
                ulong found = X86Cpu.CompareExchange(p, size, c.GetReg(i.Op1Register), expected);
                Alu.Sub(expected, found, 0, size, out ulong fl);
                if (found != expected)
                {
                    c.SetGpr(Gpr.Rax, size, found);
                }

                c.SetStatus(fl);
                return;
            }
        }

        if (!c.ReadOpRmw(ref i, 0, size, out ulong dest) || !c.ReadOp(ref i, 1, size, out ulong src))
        {
            return;
        }

        ulong acc = c.GetGpr(Gpr.Rax, size);
        Alu.Sub(acc, dest, 0, size, out ulong flags);
        if (acc == dest)
        {
            if (!c.WriteOp(ref i, 0, size, src))
            {
                return;
            }
        }
        else
        {
            // The destination is written back with its own value (a locked RMW always writes).
            if (i.Op0Kind == OpKind.Memory && !c.WriteOp(ref i, 0, size, dest))
            {
                return;
            }

            c.SetGpr(Gpr.Rax, size, dest);
        }

        c.SetStatus(flags);
    }

    public static unsafe void Cmpxchg8b(X86Cpu c, ref Instruction i)
    {
        bool wide = i.Code == Code.Cmpxchg16b_m128;
        int half = wide ? 8 : 4;
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (wide && (ea & 15) != 0)
        {
            c.Fault(ExceptionVector.GP, 0, true);
            return;
        }

        if (!wide && i.HasLockPrefix)
        {
            if (!c.LockedTarget(ref i, 8, out byte* p))
            {
                return;
            }

            if (p != null)
            {
                ulong expected = (c.Regs.Gpr[Gpr.Rax] & 0xFFFFFFFF) | (c.Regs.Gpr[Gpr.Rdx] << 32);
                ulong desired = (c.Regs.Gpr[Gpr.Rbx] & 0xFFFFFFFF) | (c.Regs.Gpr[Gpr.Rcx] << 32);
                ulong found = X86Cpu.CompareExchange(p, 8, desired, expected);
                if (found == expected)
                {
                    c.SetFlags(Rflags.ZF, Rflags.ZF);
                }
                else
                {
                    c.SetGpr(Gpr.Rax, 4, found);
                    c.SetGpr(Gpr.Rdx, 4, found >> 32);
                    c.SetFlags(Rflags.ZF, 0);
                }

                return;
            }
        }

        if (!c.ProbeWrite(seg, ea, half * 2) || !c.Read(seg, ea, half, out ulong lo) || !c.Read(seg, ea + (ulong)half, half, out ulong hi))
        {
            return;
        }

        ulong m = Alu.Mask(half);
        bool equal = lo == (c.Regs.Gpr[Gpr.Rax] & m) && hi == (c.Regs.Gpr[Gpr.Rdx] & m);
        if (equal)
        {
            if (!c.Write(seg, ea, half, c.Regs.Gpr[Gpr.Rbx]) || !c.Write(seg, ea + (ulong)half, half, c.Regs.Gpr[Gpr.Rcx]))
            {
                return;
            }

            c.SetFlags(Rflags.ZF, Rflags.ZF);
        }
        else
        {
            if (!c.Write(seg, ea, half, lo) || !c.Write(seg, ea + (ulong)half, half, hi))
            {
                return;
            }

            c.SetGpr(Gpr.Rax, half, lo);
            c.SetGpr(Gpr.Rdx, half, hi);
            c.SetFlags(Rflags.ZF, 0);
        }
    }

    public static void Cmovcc(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (!c.ReadOp(ref i, 1, size, out ulong v))
        {
            return;
        }

        if (c.Condition(i.ConditionCode))
        {
            c.SetReg(i.Op0Register, v);
        }
        else if (size == 4)
        {
            // A 32-bit CMOV zero-extends its destination even when the condition is false.
            c.SetReg(i.Op0Register, c.GetReg(i.Op0Register));
        }
    }

    public static void Setcc(X86Cpu c, ref Instruction i)
    {
        c.WriteOp(ref i, 0, 1, c.Condition(i.ConditionCode) ? 1UL : 0);
    }

    public static void Bswap(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        ulong v = c.GetReg(i.Op0Register);
        ulong r = size switch
        {
            8 => BinaryPrimitives.ReverseEndianness(v),
            4 => BinaryPrimitives.ReverseEndianness((uint)v),
            _ => 0, // BSWAP r16 is undefined; Intel and AMD hardware write zero.
        };
        c.SetReg(i.Op0Register, r);
    }

    public static void Movbe(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (!c.ReadOp(ref i, 1, size, out ulong v))
        {
            return;
        }

        ulong r = size switch
        {
            8 => BinaryPrimitives.ReverseEndianness(v),
            4 => BinaryPrimitives.ReverseEndianness((uint)v),
            _ => BinaryPrimitives.ReverseEndianness((ushort)v),
        };
        c.WriteOp(ref i, 0, size, r);
    }

    public static void SignExtendAccumulator(X86Cpu c, ref Instruction i)
    {
        switch (i.Code)
        {
            case Code.Cbw: c.SetGpr(Gpr.Rax, 2, Alu.SignExtend(c.GetGpr(Gpr.Rax, 1), 1)); break;
            case Code.Cwde: c.SetGpr(Gpr.Rax, 4, Alu.SignExtend(c.GetGpr(Gpr.Rax, 2), 2)); break;
            case Code.Cdqe: c.SetGpr(Gpr.Rax, 8, Alu.SignExtend(c.GetGpr(Gpr.Rax, 4), 4)); break;
            case Code.Cwd: c.SetGpr(Gpr.Rdx, 2, (c.GetGpr(Gpr.Rax, 2) & 0x8000) != 0 ? ulong.MaxValue : 0); break;
            case Code.Cdq: c.SetGpr(Gpr.Rdx, 4, (c.GetGpr(Gpr.Rax, 4) & 0x80000000) != 0 ? ulong.MaxValue : 0); break;
            default: c.SetGpr(Gpr.Rdx, 8, (long)c.Regs.Gpr[Gpr.Rax] < 0 ? ulong.MaxValue : 0); break;
        }
    }

    public static void Xlat(X86Cpu c, ref Instruction i)
    {
        ulong ea = (c.GetReg(i.MemoryBase) + c.GetGpr(Gpr.Rax, 1)) & X86Cpu.SizeMask(X86Cpu.RegSize(i.MemoryBase));
        if (c.Read(X86Cpu.MemorySegment(ref i), ea, 1, out ulong v))
        {
            c.SetGpr(Gpr.Rax, 1, v);
        }
    }

    public static void LoadFarPointer(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.RegSize(i.Op0Register);
        int seg = X86Cpu.MemorySegment(ref i);
        ulong ea = c.EffectiveAddress(ref i);
        if (!c.Read(seg, ea, size, out ulong off) || !c.Read(seg, ea + (ulong)size, 2, out ulong sel))
        {
            return;
        }

        int target = i.Mnemonic switch
        {
            Mnemonic.Lds => SegmentIndex.Ds,
            Mnemonic.Les => SegmentIndex.Es,
            Mnemonic.Lfs => SegmentIndex.Fs,
            Mnemonic.Lgs => SegmentIndex.Gs,
            _ => SegmentIndex.Ss,
        };
        if (c.LoadSegment(target, (ushort)sel))
        {
            c.SetReg(i.Op0Register, off);
        }
    }
}

using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST, INC, DEC, NEG, NOT.</summary>
internal static class Arithmetic
{
    private const ulong IncDecMask = Rflags.Status & ~Rflags.CF;

    public static void Add(X86Cpu c, ref Instruction i) => Binary(c, ref i, 0);

    public static void Or(X86Cpu c, ref Instruction i) => Binary(c, ref i, 1);

    public static void Adc(X86Cpu c, ref Instruction i) => Binary(c, ref i, 2);

    public static void Sbb(X86Cpu c, ref Instruction i) => Binary(c, ref i, 3);

    public static void And(X86Cpu c, ref Instruction i) => Binary(c, ref i, 4);

    public static void Sub(X86Cpu c, ref Instruction i) => Binary(c, ref i, 5);

    public static void Xor(X86Cpu c, ref Instruction i) => Binary(c, ref i, 6);

    public static void Cmp(X86Cpu c, ref Instruction i) => Binary(c, ref i, 7);

    public static void Test(X86Cpu c, ref Instruction i) => Binary(c, ref i, 8);

    /// <summary>The result and status flags of binary op <paramref name="op"/> (0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP, 8 TEST).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Compute(int op, ulong a, ulong b, ulong cf, int size, out ulong flags, ulong need = Rflags.Status) => op switch
    {
        0 => Alu.Add(a, b, 0, size, out flags, need),
        1 => Alu.Logic(a | b, size, out flags, need),
        2 => Alu.Add(a, b, cf, size, out flags, need),
        3 => Alu.Sub(a, b, cf, size, out flags, need),
        4 or 8 => Alu.Logic(a & b, size, out flags, need),
        6 => Alu.Logic(a ^ b, size, out flags, need),
        _ => Alu.Sub(a, b, 0, size, out flags, need),
    };

    /// <summary>LOCK op [mem], src on RAM: a compare-and-swap loop. Returns false when the ordinary path must run.</summary>
    private static unsafe bool Locked(X86Cpu c, ref Instruction i, int size, int op, out bool done)
    {
        done = false;
        if (!i.HasLockPrefix || i.Op0Kind != OpKind.Memory)
        {
            return false;
        }

        if (!c.LockedTarget(ref i, size, out byte* p))
        {
            done = true;
            return true;
        }

        if (p == null)
        {
            return false;
        }

        ulong b = 0;
        if (op >= 0 && !c.ReadOp(ref i, 1, size, out b))
        {
            done = true;
            return true;
        }

        ulong cf = c.Regs.Rflags & Rflags.CF;
        ulong flags;
        while (true)
        {
            ulong a = X86Cpu.AtomicLoad(p, size);
            ulong r = op switch
            {
                -1 => Alu.Add(a, 1, 0, size, out flags),
                -2 => Alu.Sub(a, 1, 0, size, out flags),
                -3 => Alu.Sub(0, a, 0, size, out flags),
                -4 => Alu.Logic(~a, size, out flags),
                _ => Compute(op, a, b, cf, size, out flags),
            };
            if (X86Cpu.CompareExchange(p, size, r, a) == a)
            {
                break;
            }
        }

        if (op is -1 or -2)
        {
            c.SetFlags(IncDecMask, flags);
        }
        else if (op != -4)
        {
            c.SetStatus(flags);
        }

        done = true;
        return true;
    }

    private static void Binary(X86Cpu c, ref Instruction i, int op)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (op < 7 && Locked(c, ref i, size, op, out _))
        {
            return;
        }

        bool ok = op < 7 ? c.ReadOpRmw(ref i, 0, size, out ulong a) : c.ReadOp(ref i, 0, size, out a);
        if (!ok || !c.ReadOp(ref i, 1, size, out ulong b))
        {
            return;
        }

        ulong r = Compute(op, a, b, c.Regs.Rflags & Rflags.CF, size, out ulong flags);

        if (op < 7 && !c.WriteOp(ref i, 0, size, r))
        {
            return;
        }

        c.SetStatus(flags);
    }

    public static void Inc(X86Cpu c, ref Instruction i) => IncDec(c, ref i, false);

    public static void Dec(X86Cpu c, ref Instruction i) => IncDec(c, ref i, true);

    private static void IncDec(X86Cpu c, ref Instruction i, bool dec)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (Locked(c, ref i, size, dec ? -2 : -1, out _))
        {
            return;
        }

        if (!c.ReadOpRmw(ref i, 0, size, out ulong a))
        {
            return;
        }

        ulong r = dec ? Alu.Sub(a, 1, 0, size, out ulong flags) : Alu.Add(a, 1, 0, size, out flags);
        if (!c.WriteOp(ref i, 0, size, r))
        {
            return;
        }

        c.SetFlags(IncDecMask, flags);
    }

    public static void Neg(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (Locked(c, ref i, size, -3, out _))
        {
            return;
        }

        if (!c.ReadOpRmw(ref i, 0, size, out ulong a))
        {
            return;
        }

        ulong r = Alu.Sub(0, a, 0, size, out ulong flags);
        if (c.WriteOp(ref i, 0, size, r))
        {
            c.SetStatus(flags);
        }
    }

    public static void Not(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (Locked(c, ref i, size, -4, out _))
        {
            return;
        }

        if (c.ReadOpRmw(ref i, 0, size, out ulong a))
        {
            c.WriteOp(ref i, 0, size, ~a);
        }
    }
}

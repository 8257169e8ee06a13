using System.Buffers.Binary;
using System.Numerics;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// Constant propagation and folding, forward through straight-line code: a register or temporary
/// written with a constant is replaced by it where it is read until control can arrive from elsewhere
/// (a label) or an interpreter fallback may have changed it; an operation whose inputs are all constant
/// and that sets no flags becomes a move of its result; identities (x + 0, x OR 0, shifts by 0, AND with
/// all ones) become moves; an operation whose result nobody can see (XZR destination, no flags) goes.
/// MOVZ/MOVK chains, ADRP + ADD and the XZR operands of aliases (MOV, NEG, CSET, MUL) fold this way.
/// </summary>
internal static class ConstantFolding
{
    private const int Slots = 32 + IrOperand.TempCount;

    /// <summary>Folds the operations of <paramref name="block"/> in place.</summary>
    public static void Run(IrBlock block)
    {
        Span<long> value = stackalloc long[Slots];
        Span<bool> known = stackalloc bool[Slots];
        IrInstruction[] ops = block.Ops;
        int last = -1;
        for (int i = 0; i < block.Count; i++)
        {
            int k = ops[i].Insn;
            if (k != last)
            {
                // Temporaries live inside one instruction; at a label (this instruction's or that of an
                // instruction without operations before it) control may come from elsewhere.
                known[32] = known[33] = false;
                for (int j = last + 1; j <= k; j++)
                {
                    if (block.IsLabel[j])
                    {
                        known.Clear();
                    }
                }

                last = k;
            }

            ref IrInstruction op = ref ops[i];
            op.A = Substitute(op.A, value, known);
            op.B = Substitute(op.B, value, known);
            if (op.Op != IrOpcode.Load)
            {
                if (!op.WritesC)
                {
                    op.C = Substitute(op.C, value, known);
                }

                op.D = Substitute(op.D, value, known);
            }

            Simplify(ref op);
            if (op.Op == IrOpcode.Fallback)
            {
                known.Clear();
                continue;
            }

            Define(op.Dst, op, value, known);
            if (op.WritesC)
            {
                Forget(op.C, known);
            }
        }
    }

    private static int Slot(IrOperand o) => o.Kind == IrKind.Temp ? 32 + o.Index : o.Index;

    private static IrOperand Substitute(IrOperand o, Span<long> value, Span<bool> known) =>
        o.IsLocation && known[Slot(o)] ? IrOperand.Const(value[Slot(o)]) : o;

    private static void Forget(IrOperand o, Span<bool> known)
    {
        if (o.IsLocation)
        {
            known[Slot(o)] = false;
        }
    }

    private static void Define(IrOperand dst, in IrInstruction op, Span<long> value, Span<bool> known)
    {
        if (!dst.IsLocation)
        {
            return;
        }

        int slot = Slot(dst);
        if (op.Op == IrOpcode.Mov && op.A.IsConst)
        {
            value[slot] = op.W64 ? op.A.Value : (long)(uint)op.A.Value;
            known[slot] = true;
        }
        else
        {
            known[slot] = false;
        }
    }

    private static void Simplify(ref IrInstruction op)
    {
        if (op.Flags != IrFlags.None || op.Op is not (>= IrOpcode.Mov and <= IrOpcode.Select))
        {
            return;
        }

        if (op.Dst.Kind == IrKind.None)
        {
            op.Op = IrOpcode.Nop; // a result written to XZR, with no flags: nothing to see
            return;
        }

        if (TryEvaluate(op, out ulong result))
        {
            op.Op = IrOpcode.Mov;
            op.A = IrOperand.Const(op.W64 ? result : (uint)result);
            op.B = IrOperand.None;
            return;
        }

        // Identities: the result is operand A (or B).
        ulong ones = op.W64 ? ulong.MaxValue : uint.MaxValue;
        bool bZero = op.B.IsConst && ((ulong)op.B.Value & ones) == 0;
        bool aZero = op.A.IsConst && ((ulong)op.A.Value & ones) == 0;
        switch (op.Op)
        {
            case IrOpcode.Add or IrOpcode.Or or IrOpcode.Xor when aZero:
                op.Op = IrOpcode.Mov;
                op.A = op.B;
                op.B = IrOperand.None;
                break;
            case IrOpcode.Add or IrOpcode.Sub or IrOpcode.Or or IrOpcode.Xor or IrOpcode.AndNot
                or IrOpcode.Shl or IrOpcode.Shr or IrOpcode.Sar or IrOpcode.Ror when bZero:
            case IrOpcode.And when op.B.IsConst && ((ulong)op.B.Value & ones) == ones:
                op.Op = IrOpcode.Mov;
                op.B = IrOperand.None;
                break;
            case IrOpcode.Sub when aZero:
                op.Op = IrOpcode.Neg;
                op.A = op.B;
                op.B = IrOperand.None;
                break;
            case IrOpcode.OrNot when aZero:
                op.Op = IrOpcode.Not;
                op.A = op.B;
                op.B = IrOperand.None;
                break;
        }
    }

    /// <summary>The result of a flag-less operation whose inputs are constant.</summary>
    public static bool TryEvaluate(in IrInstruction op, out ulong result)
    {
        result = 0;
        if (!op.A.IsConst || (op.B.Kind != IrKind.None && !op.B.IsConst))
        {
            return false;
        }

        ulong a = (ulong)op.A.Value, b = (ulong)op.B.Value;
        int width = op.W64 ? 64 : 32;
        if (!op.W64)
        {
            a = (uint)a;
            b = (uint)b;
        }

        int amount = (int)(b & (ulong)(width - 1));
        switch (op.Op)
        {
            case IrOpcode.Mov: result = a; break;
            case IrOpcode.Add: result = a + b; break;
            case IrOpcode.Sub: result = a - b; break;
            case IrOpcode.And: result = a & b; break;
            case IrOpcode.Or: result = a | b; break;
            case IrOpcode.Xor: result = a ^ b; break;
            case IrOpcode.AndNot: result = a & ~b; break;
            case IrOpcode.OrNot: result = a | ~b; break;
            case IrOpcode.XorNot: result = a ^ ~b; break;
            case IrOpcode.Shl: result = a << amount; break;
            case IrOpcode.Shr: result = a >> amount; break;
            case IrOpcode.Sar: result = op.W64 ? (ulong)((long)a >> amount) : (uint)((int)(uint)a >> amount); break;
            case IrOpcode.Ror: result = op.W64 ? BitOperations.RotateRight(a, amount) : BitOperations.RotateRight((uint)a, amount); break;
            case IrOpcode.Mul: result = a * b; break;
            case IrOpcode.Neg: result = 0 - a; break;
            case IrOpcode.Not: result = ~a; break;
            case IrOpcode.Rev: result = op.W64 ? BinaryPrimitives.ReverseEndianness(a) : BinaryPrimitives.ReverseEndianness((uint)a); break;
            case IrOpcode.SignExtend: result = op.Size == 32 ? (ulong)(long)(int)a : op.Size == 16 ? (ulong)(long)(short)a : (ulong)(long)(sbyte)a; break;
            case IrOpcode.ZeroExtend: result = op.Size == 32 ? (uint)a : op.Size == 16 ? (ushort)a : (byte)a; break;
            default: return false;
        }

        if (!op.W64)
        {
            result = (uint)result;
        }

        return true;
    }
}

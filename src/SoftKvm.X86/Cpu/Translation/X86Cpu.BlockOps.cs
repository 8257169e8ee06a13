using System.Runtime.CompilerServices;
using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The operations translated blocks call (<see cref="Translation.X86BlockCompiler"/>). Each is small and
/// inlined into the block with constant arguments (register numbers, sizes, ops), so the JIT folds its
/// switches away; the arithmetic is the interpreter's own (<see cref="Alu"/>, <see cref="Arithmetic"/>,
/// <see cref="ShiftRotate"/>). Memory is reached only through the software TLB's hits: a miss, an
/// access crossing a page or anything else the fast path does not cover returns null, and the block
/// leaves before the instruction so the interpreter runs it (fault, exit or TLB fill) exactly.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockGpr(X86Cpu c, int index) => c._regs.Gpr[index];

    /// <summary>Writes a general-purpose register as the interpreter's <see cref="SetReg"/> does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockSetGpr(X86Cpu c, int index, int size, bool high, ulong v)
    {
        ref ulong g = ref c._regs.Gpr[index];
        switch (size)
        {
            case 1:
                g = high ? (g & ~0xFF00UL) | ((v & 0xFF) << 8) : (g & ~0xFFUL) | (v & 0xFF);
                break;
            case 2:
                g = (g & ~0xFFFFUL) | (v & 0xFFFF);
                break;
            case 4:
                g = (uint)v;
                break;
            default:
                g = v;
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockSegmentBase(X86Cpu c, int seg) => c._regs.Seg[seg].Base;

    /// <summary>The host address of a read of <paramref name="size"/> bytes at <paramref name="linear"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static byte* BlockReadPointer(X86Cpu c, ulong linear, int size) => c.BlockPointer(AccessKind.Read, linear, size);

    /// <summary>The host address of a write (or read-modify-write) at <paramref name="linear"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static byte* BlockWritePointer(X86Cpu c, ulong linear, int size) => c.BlockPointer(AccessKind.Write, linear, size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* BlockPointer(AccessKind kind, ulong linear, int size)
    {
        if ((linear & 0xFFF) > (ulong)(0x1000 - size))
        {
            return null;
        }

        bool user = UserAccess();
        ref var e = ref TlbSlot(kind, user, linear);
        return e.Tag == TlbTag(linear, user) ? (byte*)(e.Addend + (long)linear) : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockLoad(byte* p, int size) => Load(p, size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockStore(byte* p, int size, ulong v) => Store(p, size, v);

    /// <summary>ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST (the <see cref="Arithmetic"/> op numbers); the status
    /// flags in <c>need</c> (those a later instruction can see) are computed and written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockBinary(X86Cpu c, ulong a, ulong b, int op, int size, ulong need)
    {
        ulong r = Arithmetic.Compute(op, a, b, c._regs.Rflags & Rflags.CF, size, out ulong f, need);
        if (need != 0)
        {
            c.SetFlags(need, f);
        }

        return r;
    }

    /// <summary>INC (<paramref name="dec"/> false) or DEC: CF is kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockIncDec(X86Cpu c, ulong a, bool dec, int size, ulong need)
    {
        ulong r = dec ? Alu.Sub(a, 1, 0, size, out ulong f, need) : Alu.Add(a, 1, 0, size, out f, need);
        if (need != 0)
        {
            c.SetFlags(need, f);
        }

        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockNeg(X86Cpu c, ulong a, int size, ulong need)
    {
        ulong r = Alu.Sub(0, a, 0, size, out ulong f, need);
        if (need != 0)
        {
            c.SetFlags(need, f);
        }

        return r;
    }

    /// <summary>SHL (op 0), SHR (1), SAR (2) by a constant count that is not 0 after masking.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockShift(X86Cpu c, ulong a, int op, int n, int size, ulong need)
    {
        ulong f;
        ulong r = op switch
        {
            0 => ShiftRotate.ShlCore(a, n, size, out f, need),
            1 => ShiftRotate.ShrCore(a, n, size, out f, need),
            _ => ShiftRotate.SarCore(a, n, size, out f, need),
        };
        if (need != 0)
        {
            c.SetFlags(need, f);
        }

        return r;
    }

    /// <summary>SHLD (<paramref name="left"/>) or SHRD by a constant count that is not 0 after masking.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockDoubleShift(X86Cpu c, ulong a, ulong b, int n, int size, bool left, ulong need)
    {
        ulong r = ShiftRotate.DoubleShiftCore(a, b, n, size, left, out ulong f, need);
        if (need != 0)
        {
            c.SetFlags(need, f);
        }

        return r;
    }

    /// <summary>MUL: the accumulator times <paramref name="b"/> into the accumulator and RDX (AX for bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockMul(X86Cpu c, ulong b, int size, ulong need)
    {
        ulong lo = MulDiv.MulCore(c.GetGpr(Gpr.Rax, size), b, size, out ulong hi, out ulong f, need);
        MulDiv.WriteWide(c, size, lo, hi);
        if (need != 0)
        {
            c.SetFlags(need, f);
        }
    }

    /// <summary>The two- and three-operand IMUL.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockImul(X86Cpu c, ulong x, ulong y, int size, ulong need)
    {
        ulong r = MulDiv.ImulCore(x, y, size, out ulong f, need);
        if (need != 0)
        {
            c.SetFlags(need, f);
        }

        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool BlockCondition(X86Cpu c, int cc) => c.Condition((ConditionCode)cc);

    /// <summary>
    /// Runs one instruction through the interpreter's handler, for the instructions a block does not
    /// compile itself. False when it faulted or needs an exit: it committed nothing, and the block leaves
    /// so the interpreter executes it again and takes the fault or the exit.
    /// </summary>
    internal static bool BlockExecute(X86Cpu c, ref Instruction i)
    {
        c._faulted = false;
        c._exitPending = false;
        c._insn = i;
        c._nextRip = c.MaskIp(c._regs.Rip + (ulong)i.Length);
        Dispatch.Table[(int)i.Code](c, ref c._insn);
        return !(c._faulted | c._exitPending);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockSetRip(X86Cpu c, ulong rip) => c._regs.Rip = rip;

    /// <summary>Whether a block may go round a loop again: no exit requested and no memory slot change.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool BlockMayGoOn(X86Cpu c) => Volatile.Read(ref c._exitRequested) == 0 && c._memory.Generation == c._tlbGeneration;
}

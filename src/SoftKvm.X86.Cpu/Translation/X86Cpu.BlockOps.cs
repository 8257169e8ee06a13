using System.Runtime.CompilerServices;
using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The operations translated blocks call (<see cref="Translation.BlockCompiler"/>). Each is small and
/// inlined into the block with constant arguments (sizes, ops, flag masks), so the JIT folds its
/// switches away; the arithmetic is the interpreter's own (<see cref="Alu"/>, <see cref="Arithmetic"/>,
/// <see cref="ShiftRotate"/>, <see cref="MulDiv"/>). A block keeps the general-purpose registers it uses
/// and RFLAGS in locals, passed here by reference, and writes them back wherever it leaves or calls a
/// handler. Memory is reached only through the software TLB's hits: a miss, an access crossing a page
/// or anything else the fast path does not cover returns null, and the block leaves before the
/// instruction so the interpreter runs it (fault, exit or TLB fill) exactly.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    // (Unsafe.Add rather than the inline array's indexer: no span, no range check; the block's register numbers are 0-15.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockGpr(X86Cpu c, int index) => Unsafe.Add(ref Unsafe.As<GprFile, ulong>(ref c._regs.Gpr), index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockStoreGpr(X86Cpu c, int index, ulong v) => Unsafe.Add(ref Unsafe.As<GprFile, ulong>(ref c._regs.Gpr), index) = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockRflags(X86Cpu c) => c._regs.Rflags;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockStoreRflags(X86Cpu c, ulong v) => c._regs.Rflags = v;

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

    /// <summary>Merges the flags in <paramref name="need"/> (computed by the caller for exactly those) into RFLAGS.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge(ref ulong flags, ulong need, ulong f)
    {
        if (need != 0)
        {
            flags = (flags & ~need) | (f & need);
        }
    }

    /// <summary>ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST (the <see cref="Arithmetic"/> op numbers); the status
    /// flags in <c>need</c> (those a later instruction can see) are computed and written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockBinary(ref ulong flags, ulong a, ulong b, int op, int size, ulong need)
    {
        ulong r = Arithmetic.Compute(op, a, b, flags & Rflags.CF, size, out ulong f, need);
        Merge(ref flags, need, f);
        return r;
    }

    /// <summary>INC (<paramref name="dec"/> false) or DEC: CF is kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockIncDec(ref ulong flags, ulong a, bool dec, int size, ulong need)
    {
        ulong r = dec ? Alu.Sub(a, 1, 0, size, out ulong f, need) : Alu.Add(a, 1, 0, size, out f, need);
        Merge(ref flags, need, f);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockNeg(ref ulong flags, ulong a, int size, ulong need)
    {
        ulong r = Alu.Sub(0, a, 0, size, out ulong f, need);
        Merge(ref flags, need, f);
        return r;
    }

    /// <summary>SHL (op 0), SHR (1), SAR (2) by a constant count that is not 0 after masking.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockShift(ref ulong flags, ulong a, int op, int n, int size, ulong need)
    {
        ulong f;
        ulong r = op switch
        {
            0 => ShiftRotate.ShlCore(a, n, size, out f, need),
            1 => ShiftRotate.ShrCore(a, n, size, out f, need),
            _ => ShiftRotate.SarCore(a, n, size, out f, need),
        };
        Merge(ref flags, need, f);
        return r;
    }

    /// <summary>SHLD (<paramref name="left"/>) or SHRD by a constant count that is not 0 after masking.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockDoubleShift(ref ulong flags, ulong a, ulong b, int n, int size, bool left, ulong need)
    {
        ulong r = ShiftRotate.DoubleShiftCore(a, b, n, size, left, out ulong f, need);
        Merge(ref flags, need, f);
        return r;
    }

    /// <summary>MUL: the accumulator times <paramref name="b"/> into the accumulator and RDX (AX for bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockMul(ref ulong rax, ref ulong rdx, ref ulong flags, ulong b, int size, ulong need)
    {
        ulong lo = MulDiv.MulCore(rax & SizeMask(size), b, size, out ulong hi, out ulong f, need);
        MulDiv.WriteWide(ref rax, ref rdx, size, lo, hi);
        Merge(ref flags, need, f);
    }

    /// <summary>The two- and three-operand IMUL.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockImul(ref ulong flags, ulong x, ulong y, int size, ulong need)
    {
        ulong r = MulDiv.ImulCore(x, y, size, out ulong f, need);
        Merge(ref flags, need, f);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool BlockCondition(ulong flags, int cc) => ConditionOf(flags, (ConditionCode)cc);

    /// <summary>
    /// Runs one instruction through the interpreter's handler, for the instructions a block does not
    /// compile itself. False when it faulted or needs an exit: it committed nothing, and the block leaves
    /// so the interpreter executes it again and takes the fault or the exit.
    /// </summary>
    internal static bool BlockExecute(X86Cpu c, ref Instruction i)
    {
        c._faulted = false;
        c._exitPending = false;
        c._fastAccesses = -1; // no fast-path exit: a failed handler is executed again by the interpreter
        c._insn = i;
        c._nextRip = c.MaskIp(c._regs.Rip + (ulong)i.Length);
        Dispatch.Table[(int)i.Code](c, ref c._insn);
        return !(c._faulted | c._exitPending);
    }

    /// <summary>
    /// RDTSC's read, as its handler makes it (<c>SystemOps.Rdtsc</c>): false (nothing read) where CR4.TSD makes it a #GP
    /// outside ring 0, which the interpreter raises; else the guest TSC, <paramref name="retiredBefore"/> being the
    /// instructions the block retired before it (<see cref="InstructionsRetired"/> counts them when the block returns).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool BlockRdtsc(X86Cpu c, int retiredBefore, out ulong tsc)
    {
        if ((c._regs.Cr4 & 4) != 0 && c._cpl != 0)
        {
            tsc = 0;
            return false;
        }

        tsc = c.ReadTsc(retiredBefore);
        return true;
    }

    /// <summary>RDTSCP's ECX: IA32_TSC_AUX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong BlockTscAux(X86Cpu c) => c._regs.TscAux;

    /// <summary>After a handler that may have stored: whether guest memory no longer holds the bytes the block was
    /// compiled from (a vectorised compare per run of instructions, a call rather than inline compares: it keeps the block's method small).</summary>
    internal static bool BlockCodeChanged(Translation.BlockState s)
    {
        foreach (var (start, length) in s.Runs)
        {
            if (!new ReadOnlySpan<byte>((void*)(s.CodeHost + start), length).SequenceEqual(s.Code.AsSpan(start, length)))
            {
                return true;
            }
        }

        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void BlockSetRip(X86Cpu c, ulong rip) => c._regs.Rip = rip;

    /// <summary>Whether a block may go round a loop again: no exit requested and no memory slot change.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool BlockMayGoOn(X86Cpu c) => Volatile.Read(ref c._exitRequested) == 0 && c._memory.Generation == c._tlbGeneration;
}

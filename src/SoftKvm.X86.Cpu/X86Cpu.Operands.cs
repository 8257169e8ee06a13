using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The shared operand module: register reads and writes with the partial-register rules (8-bit
/// high/low merges, 16-bit merges, 32-bit writes zero-extending), effective addresses with the
/// address-size wrap, and generic operand get/set by Iced operand kind.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Per Iced register: GPR index (or segment index), size in bytes, high-byte flag.</summary>
    private static readonly (byte Index, byte Size, bool High)[] s_regInfo = BuildRegInfo();

    /// <summary>Per Iced memory size: size in bytes.</summary>
    private static readonly int[] s_memSize = BuildMemSize();

    private static (byte, byte, bool)[] BuildRegInfo()
    {
        var t = new (byte, byte, bool)[Enum.GetValues<Register>().Max(r => (int)r) + 1];
        for (int r = (int)Register.AL; r <= (int)Register.R15L; r++)
        {
            int i = r - (int)Register.AL;
            t[r] = i < 4 ? ((byte)i, (byte)1, false) : i < 8 ? ((byte)(i - 4), (byte)1, true) : ((byte)(i - 4), (byte)1, false);
        }

        for (int r = (int)Register.AX; r <= (int)Register.R15W; r++)
        {
            t[r] = ((byte)(r - (int)Register.AX), (byte)2, false);
        }

        for (int r = (int)Register.EAX; r <= (int)Register.R15D; r++)
        {
            t[r] = ((byte)(r - (int)Register.EAX), (byte)4, false);
        }

        for (int r = (int)Register.RAX; r <= (int)Register.R15; r++)
        {
            t[r] = ((byte)(r - (int)Register.RAX), (byte)8, false);
        }

        for (int r = (int)Register.ES; r <= (int)Register.GS; r++)
        {
            t[r] = ((byte)(r - (int)Register.ES), (byte)2, false);
        }

        return t;
    }

    private static int[] BuildMemSize()
    {
        var values = Enum.GetValues<MemorySize>();
        var t = new int[values.Max(m => (int)m) + 1];
        foreach (var m in values)
        {
            t[(int)m] = m.GetSize();
        }

        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SizeMask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RegSize(Register r) => s_regInfo[(int)r].Size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RegIndex(Register r) => s_regInfo[(int)r].Index;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong GetReg(Register r)
    {
        var info = s_regInfo[(int)r];
        ulong v = _regs.Gpr[info.Index];
        if (info.High)
        {
            return (v >> 8) & 0xFF;
        }

        return v & SizeMask(info.Size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetReg(Register r, ulong v)
    {
        var info = s_regInfo[(int)r];
        WritePart(ref _regs.Gpr[info.Index], info.Size, info.High, v);
    }

    /// <summary>Writes <paramref name="size"/> bytes of <paramref name="v"/> into register <paramref name="g"/> (AH-BH when
    /// <paramref name="high"/>): 8- and 16-bit writes keep the other bits, 32-bit writes zero-extend.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WritePart(ref ulong g, int size, bool high, ulong v)
    {
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

    /// <summary>Writes register number <paramref name="index"/> with operand size <paramref name="size"/> (no high bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetGpr(int index, int size, ulong v) => WritePart(ref _regs.Gpr[index], size, false, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong GetGpr(int index, int size) => _regs.Gpr[index] & SizeMask(size);

    /// <summary>The effective address (offset within the segment) of the memory operand.</summary>
    internal ulong EffectiveAddress(ref Instruction i)
    {
        ulong ea = i.MemoryDisplacement64;
        var b = i.MemoryBase;
        if (b == Register.RIP)
        {
            return ea;
        }

        if (b == Register.EIP)
        {
            return ea & 0xFFFFFFFF;
        }

        int asz = 0;
        if (b != Register.None)
        {
            ea += _regs.Gpr[s_regInfo[(int)b].Index];
            asz = s_regInfo[(int)b].Size;
        }

        var x = i.MemoryIndex;
        if (x != Register.None)
        {
            ea += _regs.Gpr[s_regInfo[(int)x].Index] << BitOperations.TrailingZeroCount(i.MemoryIndexScale);
            asz = s_regInfo[(int)x].Size;
        }

        if (asz == 0)
        {
            asz = i.MemoryDisplSize;
            if (asz < 2)
            {
                asz = _bitness / 8;
            }
        }

        return asz == 8 ? ea : ea & SizeMask(asz);
    }

    /// <summary>The segment index (ES..GS) of the memory operand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int MemorySegment(ref Instruction i) => i.MemorySegment - Register.ES;

    /// <summary>The operand size in bytes of operand <paramref name="op"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int OpSize(ref Instruction i, int op)
    {
        var k = i.GetOpKind(op);
        if (k == OpKind.Register)
        {
            return s_regInfo[(int)i.GetOpRegister(op)].Size;
        }

        return s_memSize[(int)i.MemorySize];
    }

    /// <summary>Reads operand <paramref name="op"/> (register, memory or immediate) of <paramref name="size"/> bytes.</summary>
    internal bool ReadOp(ref Instruction i, int op, int size, out ulong v)
    {
        switch (i.GetOpKind(op))
        {
            case OpKind.Register:
                v = GetReg(i.GetOpRegister(op));
                return true;
            case OpKind.Memory:
                return Read(MemorySegment(ref i), EffectiveAddress(ref i), size, out v);
            default:
                v = i.GetImmediate(op) & SizeMask(size);
                return true;
        }
    }

    /// <summary>Reads the destination of a read-modify-write instruction: a memory operand is checked for
    /// write access first, so a fault reports a write (as hardware does) before anything is read.</summary>
    internal bool ReadOpRmw(ref Instruction i, int op, int size, out ulong v)
    {
        if (i.GetOpKind(op) == OpKind.Memory)
        {
            int seg = MemorySegment(ref i);
            ulong ea = EffectiveAddress(ref i);
            if (!Linear(seg, ea, size, AccessKind.Write, out ulong linear))
            {
                v = 0;
                return false;
            }

            if ((linear & 0xFFF) <= (ulong)(0x1000 - size))
            {
                bool user = UserAccess();
                ref var e = ref TlbSlot(AccessKind.Write, user, linear);
                if (e.Tag == TlbTag(linear, user))
                {
                    v = Load((byte*)(e.Addend + (long)linear), size);
                    return true;
                }
            }

            if (!ProbeLinear(linear, size, AccessKind.Write))
            {
                v = 0;
                return false;
            }

            return ReadLinear(linear, size, out v);
        }

        return ReadOp(ref i, op, size, out v);
    }

    /// <summary>Writes operand <paramref name="op"/>.</summary>
    internal bool WriteOp(ref Instruction i, int op, int size, ulong v)
    {
        if (i.GetOpKind(op) == OpKind.Register)
        {
            SetReg(i.GetOpRegister(op), v);
            return true;
        }

        return Write(MemorySegment(ref i), EffectiveAddress(ref i), size, v);
    }

    // ---- Stack ----

    /// <summary>The stack address size in bytes (SS.B, or 8 in 64-bit mode).</summary>
    internal int StackAddressSize => _bitness == 64 ? 8 : _regs.Seg[SegmentIndex.Ss].IsBig ? 4 : 2;

    internal ulong StackPointer => _regs.Gpr[Gpr.Rsp] & SizeMask(StackAddressSize);

    /// <summary>Writes a value below the stack pointer without moving it; updates <paramref name="sp"/>.</summary>
    internal bool PushValue(ulong value, int size, ref ulong sp)
    {
        int ssz = StackAddressSize;
        ulong nsp = (sp - (ulong)size) & SizeMask(ssz);
        if (!Write(SegmentIndex.Ss, nsp, size, value))
        {
            return false;
        }

        sp = nsp;
        return true;
    }

    internal bool PopValue(int size, ref ulong sp, out ulong value)
    {
        int ssz = StackAddressSize;
        if (!Read(SegmentIndex.Ss, sp & SizeMask(ssz), size, out value))
        {
            return false;
        }

        sp = (sp + (ulong)size) & SizeMask(ssz);
        return true;
    }

    /// <summary>Commits a stack pointer computed by <see cref="PushValue"/>/<see cref="PopValue"/> with the stack address size.</summary>
    internal void CommitStackPointer(ulong sp) => SetGpr(Gpr.Rsp, StackAddressSize, sp);

    internal bool Push(ulong value, int size)
    {
        ulong sp = StackPointer;
        if (!PushValue(value, size, ref sp))
        {
            return false;
        }

        CommitStackPointer(sp);
        return true;
    }
}

using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// SSE/x87 plumbing shared by the SIMD and x87 handlers: the CR0/CR4 availability rules (SDM Vol. 3
/// 2.5, Vol. 2 "SIMD Floating-Point Exceptions" tables), XMM operand access, 128-bit and larger memory
/// accesses with the alignment rule of the aligned forms, and SIMD floating-point exception delivery.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private const ulong Cr0Mp = 2, Cr0Em = 4, Cr0Ts = 8, Cr0Ne = 32;
    private const ulong Cr4OsFxsr = 1UL << 9, Cr4OsXmmExcpt = 1UL << 10;

    /// <summary>MXCSR bits that may be set (MXCSR_MASK with DAZ): everything above bit 15 is reserved.</summary>
    internal const uint MxcsrMask = 0xFFFF;

    /// <summary>SSE/SSE2 instruction availability: CR0.EM=1 or CR4.OSFXSR=0 is #UD, then CR0.TS=1 is #NM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool SseAvailable()
    {
        ulong cr0 = _regs.Cr0;
        if ((cr0 & (Cr0Em | Cr0Ts)) == 0 && (_regs.Cr4 & Cr4OsFxsr) != 0)
        {
            return true;
        }

        if ((cr0 & Cr0Em) != 0 || (_regs.Cr4 & Cr4OsFxsr) == 0)
        {
            return Fault(ExceptionVector.UD);
        }

        return Fault(ExceptionVector.NM);
    }

    /// <summary>x87 instructions and FXSAVE/FXRSTOR: CR0.EM=1 or CR0.TS=1 is #NM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool FpuAvailable() => (_regs.Cr0 & (Cr0Em | Cr0Ts)) == 0 || Fault(ExceptionVector.NM);

    /// <summary>WAIT/FWAIT: #NM only when CR0.MP and CR0.TS are both set.</summary>
    internal bool WaitAvailable() => (_regs.Cr0 & (Cr0Mp | Cr0Ts)) != (Cr0Mp | Cr0Ts) || Fault(ExceptionVector.NM);

    /// <summary>Whether CR4.OSFXSR is set (FXSAVE/FXRSTOR then include MXCSR and the XMM registers).</summary>
    internal bool OsFxsr => (_regs.Cr4 & Cr4OsFxsr) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref XmmRegister Xmm(Register r) => ref _regs.Xmm[r - Register.XMM0];

    internal ref uint Mxcsr => ref _regs.Mxcsr;

    internal ref X87State Fpu => ref _regs.Fpu;

    /// <summary>
    /// Reports the SIMD floating-point exceptions <paramref name="flags"/> (MXCSR bits 5:0) of an
    /// instruction: the flags are ORed into MXCSR; if one is unmasked the instruction faults with #XM
    /// (CR4.OSXMMEXCPT=1) or #UD, and the caller must not write its destination. True = no fault.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool SimdExceptions(uint flags)
    {
        if (flags == 0)
        {
            return true;
        }

        return SimdExceptionsSlow(flags);
    }

    private bool SimdExceptionsSlow(uint flags)
    {
        uint unmasked = flags & ~(_regs.Mxcsr >> 7) & 0x3F;
        if (unmasked == 0)
        {
            _regs.Mxcsr |= flags;
            return true;
        }

        // Pre-computation exceptions (invalid, denormal, divide by zero) suppress the post-computation
        // ones (overflow, underflow, precision) when one of them is unmasked (SDM Vol. 1 11.5.2).
        if ((unmasked & 0x7) != 0)
        {
            flags &= 0x7;
        }

        _regs.Mxcsr |= flags;
        return Fault((_regs.Cr4 & Cr4OsXmmExcpt) != 0 ? ExceptionVector.XM : ExceptionVector.UD);
    }

    // ---- Operands ----

    /// <summary>Reads a 128-bit operand: an XMM register or m128 (with the #GP(0) alignment rule when <paramref name="aligned"/>).</summary>
    internal bool ReadXmmOperand(ref Instruction i, int op, bool aligned, out XmmRegister v)
    {
        if (i.GetOpKind(op) == OpKind.Register)
        {
            v = Xmm(i.GetOpRegister(op));
            return true;
        }

        return Read128(MemorySegment(ref i), EffectiveAddress(ref i), aligned, out v);
    }

    /// <summary>Reads the low <paramref name="size"/> bytes (4 or 8) of an XMM register or memory operand (scalar forms).</summary>
    internal bool ReadScalarOperand(ref Instruction i, int op, int size, out ulong v)
    {
        if (i.GetOpKind(op) == OpKind.Register)
        {
            var r = i.GetOpRegister(op);
            v = r >= Register.XMM0 && r <= Register.XMM15 ? Xmm(r).Lo & SizeMask(size) : GetReg(r);
            return true;
        }

        return Read(MemorySegment(ref i), EffectiveAddress(ref i), size, out v);
    }

    /// <summary>Reads 16 bytes at segment:offset.</summary>
    internal bool Read128(int seg, ulong offset, bool aligned, out XmmRegister v)
    {
        v = default;
        if (!Linear(seg, offset, 16, AccessKind.Read, out ulong linear))
        {
            return false;
        }

        if (aligned && (linear & 15) != 0)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        BeginWideAccess();
        ulong hi = 0;
        bool ok = ReadLinear(linear, 8, out ulong lo) && ReadLinear(linear + 8, 8, out hi);
        EndWideAccess();
        if (ok)
        {
            v = new XmmRegister(lo, hi);
        }

        return ok;
    }

    /// <summary>Writes 16 bytes at segment:offset; both halves are checked before either is written.</summary>
    internal bool Write128(int seg, ulong offset, bool aligned, XmmRegister v)
    {
        if (!Linear(seg, offset, 16, AccessKind.Write, out ulong linear))
        {
            return false;
        }

        if (aligned && (linear & 15) != 0)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        if (!ProbeLinear(linear, 16, AccessKind.Write))
        {
            return false;
        }

        BeginWideAccess();
        bool ok = WriteLinear(linear, 8, v.Lo) && WriteLinear(linear + 8, 8, v.Hi);
        EndWideAccess();
        return ok;
    }

    /// <summary>Checks a block access (FXSAVE/FXRSTOR, FNSTENV/FLDENV) of <paramref name="size"/> bytes and
    /// returns its linear address; every page of the block is translated first so nothing is written
    /// before a fault is known.</summary>
    internal bool CheckBlock(int seg, ulong offset, int size, int alignment, AccessKind kind, out ulong linear)
    {
        if (!Linear(seg, offset, size, kind, out linear))
        {
            return false;
        }

        if (alignment > 1 && (linear & (ulong)(alignment - 1)) != 0)
        {
            return Fault(ExceptionVector.GP, 0, true);
        }

        for (int done = 0; done < size;)
        {
            int chunk = Math.Min(size - done, 0x1000 - (int)((linear + (ulong)done) & 0xFFF));
            if (!ProbeLinear(linear + (ulong)done, chunk, kind))
            {
                return false;
            }

            done += chunk;
        }

        return true;
    }
}

using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// x87 plumbing: the register stack (TOP, tags, stack overflow/underflow), the last-instruction
/// pointers, and exception reporting through FSW (flags, ES, B; an unmasked exception makes the next
/// waiting x87 instruction raise #MF).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    internal const ushort FswIe = 1, FswSf = 1 << 6, FswEs = 1 << 7, FswC0 = 1 << 8, FswC1 = 1 << 9, FswC2 = 1 << 10,
        FswC3 = 1 << 14, FswB = 1 << 15;

    /// <summary>
    /// Starts an x87 instruction: #NM when CR0.EM or CR0.TS; for a waiting instruction a pending unmasked
    /// exception (FSW.ES) raises #MF (the model always reports it natively, as with CR0.NE=1); a non-control
    /// instruction records FIP/FCS, FOP and FDP/FDS.
    /// </summary>
    internal bool X87Begin(ref Instruction i, bool waiting, bool control)
    {
        if (!FpuAvailable())
        {
            return false;
        }

        ref var f = ref _regs.Fpu;
        if (waiting && (f.Fsw & FswEs) != 0)
        {
            return Fault(ExceptionVector.MF);
        }

        if (!control)
        {
            f.Fip = _regs.Rip;
            f.Fcs = _regs.Seg[SegmentIndex.Cs].Selector;
            f.Fop = X87Opcode();
            if (i.Op0Kind == OpKind.Memory || i.Op1Kind == OpKind.Memory)
            {
                f.Fdp = EffectiveAddress(ref i);
                f.Fds = _regs.Seg[MemorySegment(ref i)].Selector;
            }
        }

        return true;
    }

    /// <summary>FOP: bits 2:0 of the D8-DF opcode byte and the ModR/M byte, read back from the code.</summary>
    private ushort X87Opcode()
    {
        ulong linear = _bitness == 64 ? _regs.Rip : (_regs.Seg[SegmentIndex.Cs].Base + _regs.Rip) & 0xFFFFFFFF;
        int len = _insn.Length;
        for (int k = 0; k + 1 < len; k++)
        {
            byte* p = TranslateFetch(linear + (ulong)k);
            if (p == null)
            {
                return 0;
            }

            byte b = *p;
            if (b >= 0xD8 && b <= 0xDF)
            {
                byte* q = TranslateFetch(linear + (ulong)k + 1);
                return q == null ? (ushort)0 : (ushort)(((b & 7) << 8) | *q);
            }
        }

        return 0;
    }

    internal int FpuTop => (_regs.Fpu.Fsw >> 11) & 7;

    internal void SetFpuTop(int top) => _regs.Fpu.Fsw = (ushort)((_regs.Fpu.Fsw & ~0x3800) | ((top & 7) << 11));

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal ref Float80 St(int i) => ref _regs.Fpu.R[(FpuTop + i) & 7];

    internal bool StValid(int i) => ((_regs.Fpu.ValidMask >> ((FpuTop + i) & 7)) & 1) != 0;

    internal void SetStValid(int i, bool valid)
    {
        int bit = 1 << ((FpuTop + i) & 7);
        _regs.Fpu.ValidMask = (byte)(valid ? _regs.Fpu.ValidMask | bit : _regs.Fpu.ValidMask & ~bit);
    }

    /// <summary>Sets or clears C1 (the "rounded up" indication after an inexact result).</summary>
    internal void SetC1(bool value) => _regs.Fpu.Fsw = value ? (ushort)(_regs.Fpu.Fsw | FswC1) : (ushort)(_regs.Fpu.Fsw & ~FswC1);

    /// <summary>Pops the stack: ST(0) becomes empty, TOP + 1.</summary>
    internal void FpuPop()
    {
        SetStValid(0, false);
        SetFpuTop(FpuTop + 1);
    }

    /// <summary>Pushes <paramref name="v"/>. A full slot is a stack overflow (IE, SF, C1=1): masked, the
    /// indefinite QNaN is pushed; unmasked, nothing changes and false is returned.</summary>
    internal bool FpuPush(Float80 v)
    {
        int slot = (FpuTop - 1) & 7;
        if (((_regs.Fpu.ValidMask >> slot) & 1) != 0)
        {
            if (!X87Exceptions(FswIe, stack: true, c1: true))
            {
                return false;
            }

            v = Instructions.X87Math.Indefinite;
        }
        else
        {
            _regs.Fpu.Fsw &= unchecked((ushort)~FswC1);
        }

        SetFpuTop(FpuTop - 1);
        _regs.Fpu.R[FpuTop] = v;
        SetStValid(0, true);
        return true;
    }

    /// <summary>
    /// Reports x87 exception flags (FSW bits 5:0; <paramref name="stack"/> adds SF, <paramref name="c1"/>
    /// sets C1 as stack faults do). An unmasked one sets ES and B (the next waiting instruction raises #MF).
    /// False when an unmasked invalid-operation, denormal or divide-by-zero exception (or stack fault)
    /// suppresses the result: the caller leaves its destination unchanged. Unmasked overflow, underflow and
    /// precision exceptions still deliver the (biased, for overflow/underflow) result: true.
    /// </summary>
    internal bool X87Exceptions(uint flags, bool stack = false, bool c1 = false)
    {
        ref var f = ref _regs.Fpu;
        if (flags == 0)
        {
            return true;
        }

        ushort sw = (ushort)(f.Fsw | (flags & 0x3F));
        if (stack)
        {
            sw = (ushort)((sw | FswSf) & ~FswC1);
            if (c1)
            {
                sw |= FswC1;
            }
        }

        f.Fsw = sw;
        uint unmasked = flags & ~(uint)f.Fcw & 0x3F;
        if (unmasked != 0)
        {
            f.Fsw |= FswEs | FswB;
        }

        return (unmasked & 0x7) == 0;
    }

    /// <summary>Whether overflow (OE) or underflow (UE) is unmasked in FCW (the arithmetic then delivers biased results).</summary>
    internal bool X87OverflowUnmasked => (_regs.Fpu.Fcw & 0x08) == 0;

    internal bool X87UnderflowUnmasked => (_regs.Fpu.Fcw & 0x10) == 0;

    /// <summary>Recomputes FSW.ES and B from the flags and masks (after FLDCW, FLDENV, FRSTOR-like loads).</summary>
    internal void X87UpdateSummary()
    {
        ref var f = ref _regs.Fpu;
        bool pending = (f.Fsw & ~f.Fcw & 0x3F) != 0;
        f.Fsw = pending ? (ushort)(f.Fsw | FswEs | FswB) : (ushort)(f.Fsw & ~(FswEs | FswB));
    }

    /// <summary>The MXCSR-style control (all masked, rounding from FCW.RC) for the shared rounding code.</summary>
    internal uint X87RoundingControl => 0x1F80u | ((uint)(_regs.Fpu.Fcw >> 10) & 3) << 13;

    // ---- MMX (the registers alias the x87 significands) ----

    /// <summary>MMX instruction checks: CR0.EM=1 is #UD, CR0.TS=1 is #NM, a pending x87 exception is #MF.</summary>
    internal bool MmxCheck()
    {
        if ((_regs.Cr0 & Cr0Em) != 0)
        {
            return Fault(ExceptionVector.UD);
        }

        if ((_regs.Cr0 & Cr0Ts) != 0)
        {
            return Fault(ExceptionVector.NM);
        }

        return (_regs.Fpu.Fsw & FswEs) == 0 || Fault(ExceptionVector.MF);
    }

    /// <summary>The x87-to-MMX transition every MMX instruction but EMMS makes: TOP = 0, every register valid.</summary>
    internal void MmxTransition()
    {
        SetFpuTop(0);
        _regs.Fpu.ValidMask = 0xFF;
    }

    /// <summary>MMi: the significand of physical register Ri.</summary>
    internal ulong Mm(Register r) => _regs.Fpu.R[r - Register.MM0].Significand;

    /// <summary>Writes MMi: the significand of Ri, with the exponent and sign bits set to ones as the hardware does.</summary>
    internal void SetMm(Register r, ulong value)
    {
        ref var f = ref _regs.Fpu.R[r - Register.MM0];
        f.Significand = value;
        f.SignExponent = 0xFFFF;
    }
}

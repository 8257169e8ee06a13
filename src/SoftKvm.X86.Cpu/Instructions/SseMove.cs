using Iced.Intel;

namespace SoftKvm.X86.Cpu.Instructions;

/// <summary>SSE/SSE2 data movement: MOVD/MOVQ, full-register moves (aligned and unaligned), scalar moves,
/// half-register moves, non-temporal stores, sign-mask extraction, PINSRW/PEXTRW, MASKMOVDQU.</summary>
internal static class SseMove
{
    private static bool IsXmm(Register r) => r >= Register.XMM0 && r <= Register.XMM15;

    /// <summary>MOVD/MOVQ between XMM and GPR/memory, and MOVQ xmm, xmm/m64 / xmm/m64, xmm.</summary>
    public static void MovdMovq(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        int size = i.Mnemonic == Mnemonic.Movd ? 4 : 8;
        if (i.Op0Kind == OpKind.Register && IsXmm(i.Op0Register))
        {
            if (!c.ReadScalarOperand(ref i, 1, size, out ulong v))
            {
                return;
            }

            c.Xmm(i.Op0Register) = new XmmRegister(v, 0);
            return;
        }

        ulong s = c.Xmm(i.Op1Register).Lo & X86Cpu.SizeMask(size);
        c.WriteOp(ref i, 0, size, s);
    }

    /// <summary>MOVAPS/MOVAPD/MOVDQA (aligned), MOVUPS/MOVUPD/MOVDQU (unaligned), MOVNTPS/MOVNTPD/MOVNTDQ (aligned stores).</summary>
    public static void MoveFull(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        bool aligned = i.Mnemonic is not (Mnemonic.Movups or Mnemonic.Movupd or Mnemonic.Movdqu);
        if (i.Op0Kind == OpKind.Register)
        {
            if (c.ReadXmmOperand(ref i, 1, aligned, out var v))
            {
                c.Xmm(i.Op0Register) = v;
            }

            return;
        }

        c.Write128(X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), aligned, c.Xmm(i.Op1Register));
    }

    /// <summary>MOVSS/MOVSD (scalar): register to register merges the low element, a load zeroes the rest.</summary>
    public static void MoveScalar(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        int size = i.Mnemonic == Mnemonic.Movss ? 4 : 8;
        ulong mask = X86Cpu.SizeMask(size);
        if (i.Op0Kind != OpKind.Register)
        {
            c.WriteOp(ref i, 0, size, c.Xmm(i.Op1Register).Lo & mask);
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        if (i.Op1Kind == OpKind.Register)
        {
            d.Lo = (d.Lo & ~mask) | (c.Xmm(i.Op1Register).Lo & mask);
            return;
        }

        if (c.Read(X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), size, out ulong v))
        {
            c.Xmm(i.Op0Register) = new XmmRegister(v, 0);
        }
    }

    /// <summary>MOVLPS/MOVLPD, MOVHPS/MOVHPD (memory forms), MOVHLPS, MOVLHPS.</summary>
    public static void MoveHalf(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        bool high = i.Mnemonic is Mnemonic.Movhps or Mnemonic.Movhpd;
        if (i.Op0Kind != OpKind.Register)
        {
            ref var s = ref c.Xmm(i.Op1Register);
            c.WriteOp(ref i, 0, 8, high ? s.Hi : s.Lo);
            return;
        }

        ref var d = ref c.Xmm(i.Op0Register);
        switch (i.Mnemonic)
        {
            case Mnemonic.Movhlps:
                d.Lo = c.Xmm(i.Op1Register).Hi;
                return;
            case Mnemonic.Movlhps:
                d.Hi = c.Xmm(i.Op1Register).Lo;
                return;
        }

        if (!c.Read(X86Cpu.MemorySegment(ref i), c.EffectiveAddress(ref i), 8, out ulong v))
        {
            return;
        }

        if (high)
        {
            d.Hi = v;
        }
        else
        {
            d.Lo = v;
        }
    }

    /// <summary>MOVNTI m32/m64, r: a plain store of a general register (the non-temporal hint has no effect here).</summary>
    public static void Movnti(X86Cpu c, ref Instruction i)
    {
        int size = X86Cpu.OpSize(ref i, 1);
        c.WriteOp(ref i, 0, size, c.GetReg(i.Op1Register));
    }

    /// <summary>MOVMSKPS / MOVMSKPD / PMOVMSKB: the sign bits of the elements into a general register (zero-extended).</summary>
    public static void MoveMask(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        ref var s = ref c.Xmm(i.Op1Register);
        ulong m = 0;
        switch (i.Mnemonic)
        {
            case Mnemonic.Movmskps:
                m = ((s.Lo >> 31) & 1) | ((s.Lo >> 62) & 2) | (((s.Hi >> 31) & 1) << 2) | (((s.Hi >> 63) & 1) << 3);
                break;
            case Mnemonic.Movmskpd:
                m = (s.Lo >> 63) | ((s.Hi >> 63) << 1);
                break;
            default:
                m = ByteSigns(s.Lo) | (ByteSigns(s.Hi) << 8);
                break;
        }

        c.SetReg(i.Op0Register, m);
    }

    /// <summary>The sign bits of the eight bytes of <paramref name="q"/> (PMOVMSKB, of an XMM or MMX register).</summary>
    internal static ulong ByteSigns(ulong q)
    {
        ulong m = 0;
        for (int b = 0; b < 8; b++)
        {
            m |= ((q >> (b * 8 + 7)) & 1) << b;
        }

        return m;
    }

    /// <summary>Word <paramref name="sel"/> (0-3) of <paramref name="q"/> replaced by the low word of <paramref name="v"/> (PINSRW).</summary>
    internal static ulong InsertWord(ulong q, int sel, ulong v) => (q & ~(0xFFFFUL << (sel * 16))) | ((v & 0xFFFF) << (sel * 16));

    /// <summary>Word <paramref name="sel"/> (0-3) of <paramref name="q"/> (PEXTRW).</summary>
    internal static ulong ExtractWord(ulong q, int sel) => (q >> (sel * 16)) & 0xFFFF;

    /// <summary>PINSRW xmm, r32/m16, imm8.</summary>
    public static void Pinsrw(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable() || !c.ReadOp(ref i, 1, 2, out ulong v))
        {
            return;
        }

        int sel = i.Immediate8 & 7;
        ref var d = ref c.Xmm(i.Op0Register);
        ref ulong half = ref sel < 4 ? ref d.Lo : ref d.Hi;
        half = InsertWord(half, sel & 3, v);
    }

    /// <summary>PEXTRW r32/r64, xmm, imm8 (zero-extended).</summary>
    public static void Pextrw(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        int sel = i.Immediate8 & 7;
        ref var s = ref c.Xmm(i.Op1Register);
        c.SetReg(i.Op0Register, ExtractWord(sel < 4 ? s.Lo : s.Hi, sel & 3));
    }

    /// <summary>MASKMOVDQU xmm1, xmm2: stores the bytes of xmm1 whose mask byte in xmm2 has bit 7 set to DS:rDI.</summary>
    public static void Maskmovdqu(X86Cpu c, ref Instruction i)
    {
        if (!c.SseAvailable())
        {
            return;
        }

        MaskedStore(c, ref i, c.Xmm(i.Op1Register), c.Xmm(i.Op2Register), 16);
    }

    /// <summary>
    /// MASKMOVDQU / MASKMOVQ: the first <paramref name="bytes"/> bytes of <paramref name="data"/> whose mask
    /// byte has bit 7 set go to DS:rDI (the instruction's address size); the whole destination is probed
    /// first. False when the store faulted.
    /// </summary>
    internal static bool MaskedStore(X86Cpu c, ref Instruction i, XmmRegister data, XmmRegister mask, int bytes)
    {
        ulong ea = c.Regs.Gpr[Gpr.Rdi] & i.Op0Kind switch
        {
            OpKind.MemorySegDI => 0xFFFFUL,
            OpKind.MemorySegEDI => 0xFFFFFFFFUL,
            _ => ulong.MaxValue,
        };
        int seg = X86Cpu.MemorySegment(ref i);
        if (((mask.Lo | mask.Hi) & 0x8080808080808080UL) == 0)
        {
            return true;
        }

        if (!c.ProbeWrite(seg, ea, bytes))
        {
            return false;
        }

        for (int b = 0; b < bytes; b++)
        {
            ulong m = b < 8 ? mask.Lo : mask.Hi;
            if (((m >> ((b & 7) * 8 + 7)) & 1) != 0)
            {
                ulong v = ((b < 8 ? data.Lo : data.Hi) >> ((b & 7) * 8)) & 0xFF;
                if (!c.Write(seg, ea + (ulong)b, 1, v))
                {
                    return false;
                }
            }
        }

        return true;
    }
}

using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The MMX, SSE/SSE2, FXSR and x87 part of the dispatch table. MMX-register forms of later extensions
/// (SSSE3, the Cyrix extensions) raise #UD (counted).
/// </summary>
internal static unsafe class SimdDispatch
{
    /// <summary>True when one of the code's operands is an MMX register (those forms are not implemented).</summary>
    private static bool UsesMmx(Code code)
    {
        var op = code.ToOpCode();
        for (int k = 0; k < op.OpCount; k++)
        {
            var kind = op.GetOpKind(k);
            if (kind is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The handler for an SSE/x87 code; null when the code is not one (the integer table decides),
    /// <paramref name="unimplemented"/> for the MMX forms and the x87/SSE instructions the model does not implement.</summary>
    public static delegate*<X86Cpu, ref Instruction, void> Lookup(Code code, Mnemonic m, delegate*<X86Cpu, ref Instruction, void> unimplemented)
    {
        if (UsesMmx(code))
        {
            var mmx = LookupMmx(code, m);
            return mmx != null ? mmx : unimplemented;
        }

        return LookupCore(code, m);
    }

    /// <summary>The MMX-register forms (null: not implemented, e.g. the SSSE3 and Cyrix forms).</summary>
    private static delegate*<X86Cpu, ref Instruction, void> LookupMmx(Code code, Mnemonic m)
    {
        if (code.CpuidFeatures().Any(f => f is not (CpuidFeature.MMX or CpuidFeature.SSE or CpuidFeature.SSE2)))
        {
            return null;
        }

        switch (m)
        {
            case Mnemonic.Psllw or Mnemonic.Pslld or Mnemonic.Psllq or Mnemonic.Psrlw or Mnemonic.Psrld or Mnemonic.Psrlq
                or Mnemonic.Psraw or Mnemonic.Psrad:
                return &Mmx.Shift;
            case Mnemonic.Pshufw: return &Mmx.Pshufw;
            case Mnemonic.Pinsrw: return &Mmx.Pinsrw;
            case Mnemonic.Pextrw or Mnemonic.Pmovmskb: return &Mmx.ToGpr;
            case Mnemonic.Movd or Mnemonic.Movq or Mnemonic.Movntq: return &Mmx.Move;
            case Mnemonic.Maskmovq: return &Mmx.Maskmovq;
            case Mnemonic.Movq2dq or Mnemonic.Movdq2q: return &Mmx.CrossMove;
            case Mnemonic.Cvtpi2ps or Mnemonic.Cvtpi2pd or Mnemonic.Cvtps2pi or Mnemonic.Cvttps2pi or Mnemonic.Cvtpd2pi
                or Mnemonic.Cvttpd2pi:
                return &Mmx.Convert;
            default:
                return SseInteger.LaneFunction(m) != null ? &Mmx.Binary : null;
        }
    }

    private static delegate*<X86Cpu, ref Instruction, void> LookupCore(Code code, Mnemonic m)
    {
        string name = code.ToString();
        switch (m)
        {
            // ---- SSE/SSE2 moves ----
            case Mnemonic.Movd or Mnemonic.Movq: return &SseMove.MovdMovq;
            case Mnemonic.Movaps or Mnemonic.Movapd or Mnemonic.Movdqa or Mnemonic.Movups or Mnemonic.Movupd or Mnemonic.Movdqu
                or Mnemonic.Movntps or Mnemonic.Movntpd or Mnemonic.Movntdq:
                return &SseMove.MoveFull;
            case Mnemonic.Movss: return &SseMove.MoveScalar;
            case Mnemonic.Movsd when name.Contains("xmm", StringComparison.Ordinal): return &SseMove.MoveScalar;
            case Mnemonic.Movlps or Mnemonic.Movlpd or Mnemonic.Movhps or Mnemonic.Movhpd or Mnemonic.Movhlps or Mnemonic.Movlhps:
                return &SseMove.MoveHalf;
            case Mnemonic.Movnti: return &SseMove.Movnti;
            case Mnemonic.Movmskps or Mnemonic.Movmskpd or Mnemonic.Pmovmskb: return &SseMove.MoveMask;
            case Mnemonic.Pinsrw: return &SseMove.Pinsrw;
            case Mnemonic.Pextrw when code is Code.Pextrw_r32_xmm_imm8 or Code.Pextrw_r64_xmm_imm8: return &SseMove.Pextrw;
            case Mnemonic.Maskmovdqu: return &SseMove.Maskmovdqu;

            // ---- State ----
            case Mnemonic.Ldmxcsr: return &SseState.Ldmxcsr;
            case Mnemonic.Stmxcsr: return &SseState.Stmxcsr;
            case Mnemonic.Fxsave or Mnemonic.Fxsave64: return &SseState.Fxsave;
            case Mnemonic.Fxrstor or Mnemonic.Fxrstor64: return &SseState.Fxrstor;
            case Mnemonic.Emms: return &SseState.Emms;

            // ---- Bitwise ----
            case Mnemonic.Pand or Mnemonic.Andps or Mnemonic.Andpd: return &SseInteger.And;
            case Mnemonic.Pandn or Mnemonic.Andnps or Mnemonic.Andnpd: return &SseInteger.AndNot;
            case Mnemonic.Por or Mnemonic.Orps or Mnemonic.Orpd: return &SseInteger.Or;
            case Mnemonic.Pxor or Mnemonic.Xorps or Mnemonic.Xorpd: return &SseInteger.Xor;

            // ---- Packed integer ----
            case Mnemonic.Paddb: return &SseInteger.Paddb;
            case Mnemonic.Paddw: return &SseInteger.Paddw;
            case Mnemonic.Paddd: return &SseInteger.Paddd;
            case Mnemonic.Paddq: return &SseInteger.Paddq;
            case Mnemonic.Psubb: return &SseInteger.Psubb;
            case Mnemonic.Psubw: return &SseInteger.Psubw;
            case Mnemonic.Psubd: return &SseInteger.Psubd;
            case Mnemonic.Psubq: return &SseInteger.Psubq;
            case Mnemonic.Paddsb: return &SseInteger.Paddsb;
            case Mnemonic.Paddsw: return &SseInteger.Paddsw;
            case Mnemonic.Paddusb: return &SseInteger.Paddusb;
            case Mnemonic.Paddusw: return &SseInteger.Paddusw;
            case Mnemonic.Psubsb: return &SseInteger.Psubsb;
            case Mnemonic.Psubsw: return &SseInteger.Psubsw;
            case Mnemonic.Psubusb: return &SseInteger.Psubusb;
            case Mnemonic.Psubusw: return &SseInteger.Psubusw;
            case Mnemonic.Pcmpeqb: return &SseInteger.Pcmpeqb;
            case Mnemonic.Pcmpeqw: return &SseInteger.Pcmpeqw;
            case Mnemonic.Pcmpeqd: return &SseInteger.Pcmpeqd;
            case Mnemonic.Pcmpgtb: return &SseInteger.Pcmpgtb;
            case Mnemonic.Pcmpgtw: return &SseInteger.Pcmpgtw;
            case Mnemonic.Pcmpgtd: return &SseInteger.Pcmpgtd;
            case Mnemonic.Pminub: return &SseInteger.Pminub;
            case Mnemonic.Pmaxub: return &SseInteger.Pmaxub;
            case Mnemonic.Pminsw: return &SseInteger.Pminsw;
            case Mnemonic.Pmaxsw: return &SseInteger.Pmaxsw;
            case Mnemonic.Pavgb: return &SseInteger.Pavgb;
            case Mnemonic.Pavgw: return &SseInteger.Pavgw;
            case Mnemonic.Psadbw: return &SseInteger.Psadbw;
            case Mnemonic.Pmullw: return &SseInteger.Pmullw;
            case Mnemonic.Pmulhw: return &SseInteger.Pmulhw;
            case Mnemonic.Pmulhuw: return &SseInteger.Pmulhuw;
            case Mnemonic.Pmuludq: return &SseInteger.Pmuludq;
            case Mnemonic.Pmaddwd: return &SseInteger.Pmaddwd;
            case Mnemonic.Psllw or Mnemonic.Pslld or Mnemonic.Psllq or Mnemonic.Psrlw or Mnemonic.Psrld or Mnemonic.Psrlq
                or Mnemonic.Psraw or Mnemonic.Psrad:
                return &SseInteger.Shift;
            case Mnemonic.Pslldq or Mnemonic.Psrldq: return &SseInteger.ByteShift;
            case Mnemonic.Pshufd or Mnemonic.Pshuflw or Mnemonic.Pshufhw: return &SseInteger.Pshuf;
            case Mnemonic.Shufps or Mnemonic.Shufpd: return &SseInteger.Shufp;
            case Mnemonic.Punpcklbw: return &SseInteger.Punpcklbw;
            case Mnemonic.Punpckhbw: return &SseInteger.Punpckhbw;
            case Mnemonic.Punpcklwd: return &SseInteger.Punpcklwd;
            case Mnemonic.Punpckhwd: return &SseInteger.Punpckhwd;
            case Mnemonic.Punpckldq or Mnemonic.Unpcklps: return &SseInteger.Punpckldq;
            case Mnemonic.Punpckhdq or Mnemonic.Unpckhps: return &SseInteger.Punpckhdq;
            case Mnemonic.Punpcklqdq or Mnemonic.Unpcklpd: return &SseInteger.Punpcklqdq;
            case Mnemonic.Punpckhqdq or Mnemonic.Unpckhpd: return &SseInteger.Punpckhqdq;
            case Mnemonic.Packsswb: return &SseInteger.Packsswb;
            case Mnemonic.Packuswb: return &SseInteger.Packuswb;
            case Mnemonic.Packssdw: return &SseInteger.Packssdw;

            // ---- Floating point ----
            case Mnemonic.Addps: return &SseFloat.Addps;
            case Mnemonic.Addss: return &SseFloat.Addss;
            case Mnemonic.Addpd: return &SseFloat.Addpd;
            case Mnemonic.Addsd: return &SseFloat.Addsd;
            case Mnemonic.Subps: return &SseFloat.Subps;
            case Mnemonic.Subss: return &SseFloat.Subss;
            case Mnemonic.Subpd: return &SseFloat.Subpd;
            case Mnemonic.Subsd: return &SseFloat.Subsd;
            case Mnemonic.Mulps: return &SseFloat.Mulps;
            case Mnemonic.Mulss: return &SseFloat.Mulss;
            case Mnemonic.Mulpd: return &SseFloat.Mulpd;
            case Mnemonic.Mulsd: return &SseFloat.Mulsd;
            case Mnemonic.Divps: return &SseFloat.Divps;
            case Mnemonic.Divss: return &SseFloat.Divss;
            case Mnemonic.Divpd: return &SseFloat.Divpd;
            case Mnemonic.Divsd: return &SseFloat.Divsd;
            case Mnemonic.Sqrtps: return &SseFloat.Sqrtps;
            case Mnemonic.Sqrtss: return &SseFloat.Sqrtss;
            case Mnemonic.Sqrtpd: return &SseFloat.Sqrtpd;
            case Mnemonic.Sqrtsd: return &SseFloat.Sqrtsd;
            case Mnemonic.Minps or Mnemonic.Minpd or Mnemonic.Minss or Mnemonic.Minsd or Mnemonic.Maxps or Mnemonic.Maxpd
                or Mnemonic.Maxss or Mnemonic.Maxsd:
                return &SseFloat.MinMax;
            case Mnemonic.Cmpps or Mnemonic.Cmppd or Mnemonic.Cmpss: return &SseFloat.Cmp;
            case Mnemonic.Cmpsd when name.Contains("xmm", StringComparison.Ordinal): return &SseFloat.Cmp;
            case Mnemonic.Comiss or Mnemonic.Ucomiss or Mnemonic.Comisd or Mnemonic.Ucomisd: return &SseFloat.Comis;
            case Mnemonic.Rcpps or Mnemonic.Rcpss or Mnemonic.Rsqrtps or Mnemonic.Rsqrtss: return &SseFloat.Reciprocal;

            // ---- Conversions ----
            case Mnemonic.Cvtsi2ss or Mnemonic.Cvtsi2sd: return &SseConvert.Cvtsi2s;
            case Mnemonic.Cvtss2si or Mnemonic.Cvttss2si or Mnemonic.Cvtsd2si or Mnemonic.Cvttsd2si: return &SseConvert.Cvts2si;
            case Mnemonic.Cvtss2sd or Mnemonic.Cvtsd2ss: return &SseConvert.ScalarPrecision;
            case Mnemonic.Cvtdq2ps or Mnemonic.Cvtps2dq or Mnemonic.Cvttps2dq or Mnemonic.Cvtdq2pd or Mnemonic.Cvtpd2dq
                or Mnemonic.Cvttpd2dq or Mnemonic.Cvtps2pd or Mnemonic.Cvtpd2ps:
                return &SseConvert.Packed;
        }

        return X87Dispatch.Lookup(code, m);
    }
}

using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// FEAT_BTI (Arm ARM D8.5 "Branch Target Identification"): BR, BRAA/BRAB(Z) set PSTATE.BTYPE to 01 (to
/// 11 from a guarded page unless the register is X16 or X17), BLR and BLRAA/BLRAB(Z) to 10, every other
/// instruction to 00. Before an instruction on a guarded page (the GP bit of its stage-1 descriptor,
/// carried in the execute TLB's info byte) runs with BTYPE != 00, it must be a landing pad compatible
/// with BTYPE (BTI c/j/jc, PACIASP/PACIBSP unless SCTLR_EL1.BT0/BT1 and BTYPE = 11, BRK and HLT, which
/// take their own exception), else it takes the Branch Target exception (EC 0x0D, ISS = BTYPE) with
/// BTYPE kept in SPSR_EL1. Interrupts and the exceptions taken before the instruction (aborts on its
/// fetch, breakpoints, software step) keep BTYPE in SPSR_EL1 too, so the check happens again after the
/// return; exceptions the instruction itself takes save BTYPE = 00 (the zeroing the architecture allows).
/// BTYPE is bits [11:10] of <see cref="CpuState.PstateFlags"/>, on a model with the feature only.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private const ulong SctlrBt0 = 1UL << 35;
    private const ulong SctlrBt1 = 1UL << 36;

    /// <summary>The SCTLR_EL1 bits of FEAT_BTI (with it): BT0, BT1.</summary>
    private ulong SctlrBtiBits => Has(CpuFeatures.Bti) ? SctlrBt0 | SctlrBt1 : 0;

    /// <summary>PSTATE.BTYPE = <paramref name="btype"/>, on a model with FEAT_BTI.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetBtype(uint btype) =>
        State.PstateFlags = (State.PstateFlags & ~Psr.Btype) | ((btype << Psr.BtypeShift) & _pstateFlagsMask);

    /// <summary>The BTYPE a BR (or BRAA...) through <paramref name="rn"/> at PC sets: 11 from a guarded page unless X16/X17, else 01.</summary>
    private uint BtypeOfBr(int rn) => rn is not (16 or 17) && Has(CpuFeatures.Bti) && IsGuardedPage(State.Pc) ? 3u : 1u;

    /// <summary>Whether the page of instruction address <paramref name="pc"/> is guarded (GP = 1 in its stage-1 descriptor, the MMU on).</summary>
    private bool IsGuardedPage(ulong pc)
    {
        if ((State.SctlrEl1 & SctlrM) == 0)
        {
            return false;
        }

        int index = (int)(pc >> 12) & TlbMask;
        if (_execTlb[index].Tag == ((pc & ~0xFFFUL) | _tagEl))
        {
            return (_execInfo[index] & InfoGuarded) != 0;
        }

        return Translate(pc, AccessKind.Execute, State.El, out _, out _) && _walkGuarded;
    }

    /// <summary>
    /// The check before the instruction <paramref name="insn"/> at <paramref name="pc"/> (fetched, so its
    /// page is in the execute TLB) while PSTATE.BTYPE != 00: BTYPE becomes 00 for the instruction; false
    /// when it took the Branch Target exception instead.
    /// </summary>
    private bool BranchTargetCheck(ulong pc, uint insn)
    {
        uint btype = (State.PstateFlags & Psr.Btype) >> Psr.BtypeShift;
        State.PstateFlags &= ~Psr.Btype;
        if (!IsGuardedPage(pc) || BtypeCompatible(insn, btype))
        {
            return true;
        }

        State.PstateFlags |= btype << Psr.BtypeShift; // kept in SPSR_EL1
        TakeSyncException(Esr.Make(Esr.EcBranchTarget, btype), 0, false);
        return false;
    }

    /// <summary>
    /// Whether the native engine may go on to <paramref name="target"/> after a branch that set BTYPE: its
    /// page is in the execute TLB and unguarded, or its instruction is a compatible landing pad (the
    /// block entered there clears BTYPE). Otherwise the run loop lets the interpreter decide.
    /// </summary>
    private bool BranchTargetPasses(ulong target)
    {
        int index = (int)(target >> 12) & TlbMask;
        ref TlbEntry e = ref _execTlb[index];
        if (e.Tag != ((target & ~0xFFFUL) | _tagEl) || (target & 3) != 0)
        {
            return false;
        }

        return (_execInfo[index] & InfoGuarded) == 0
            || BtypeCompatible(*(uint*)(e.Delta + (long)target), (State.PstateFlags & Psr.Btype) >> Psr.BtypeShift);
    }

    /// <summary>BTypeCompatible: whether <paramref name="insn"/> may be the target of a branch that set <paramref name="btype"/> (non-zero).</summary>
    private bool BtypeCompatible(uint insn, uint btype)
    {
        if ((insn & 0xFFFF_F01F) == 0xD503_201F)
        {
            switch ((insn >> 5) & 0x7F)
            {
                case 0x19 or 0x1B: // PACIASP, PACIBSP: not with BTYPE 11 under SCTLR_EL1.BT0 (EL0) / BT1 (EL1)
                    return btype != 3 || (State.SctlrEl1 & (State.El == 0 ? SctlrBt0 : SctlrBt1)) == 0;
                case 0x22: // BTI c
                    return btype != 3;
                case 0x24: // BTI j
                    return btype != 2;
                case 0x26: // BTI jc
                    return true;
                default: // BTI and every other hint
                    return false;
            }
        }

        // BRK and HLT: their own exception has priority over the Branch Target exception.
        return (insn & 0xFFE0_001F) is 0xD420_0000 or 0xD440_0000;
    }

    /// <summary>BTI, BTI c, BTI j, BTI jc: landing pads (checked before they run, <see cref="BranchTargetCheck"/>); otherwise NOPs.</summary>
    [A64Handler(A64Op.Bti)]
    private Flow Bti() => Flow.Next;
}

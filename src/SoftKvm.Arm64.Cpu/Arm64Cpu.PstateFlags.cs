namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The PSTATE fields of the extensions (<see cref="CpuState.PstateFlags"/>): SSBS (FEAT_SSBS2), DIT
/// (FEAT_DIT), PAN (FEAT_PAN) and UAO (FEAT_UAO). Each exists only where the model has its feature:
/// MSR (immediate) and MRS/MSR of its register are UNDEFINED otherwise and its SPSR bit is RES0. On
/// exception entry to EL1, SSBS becomes SCTLR_EL1.DSSBS, UAO is cleared, PAN is set when SCTLR_EL1.SPAN
/// is 0, and DIT is kept (Arm ARM AArch64.TakeException); ERET restores them from SPSR_EL1.
/// SSBS and DIT change nothing observable here (no speculation; every instruction's timing is data
/// independent already).
/// </summary>
public sealed partial class Arm64Cpu
{
    private const ulong SctlrSpan = 1UL << 23;
    private const ulong SctlrDssbs = 1UL << 44;

    /// <summary>The PSTATE field an MSR (immediate) with this op1:op2 writes, or 0 (not one of these, or not implemented).</summary>
    private uint PstateFlagOfMsrImmediate(uint op1, uint op2) => ((op1 << 3) | op2) switch
    {
        (3 << 3) | 1 => Psr.Ssbs & _pstateFlagsMask,
        (3 << 3) | 2 => Psr.Dit & _pstateFlagsMask,
        (0 << 3) | 4 => Psr.Pan & _pstateFlagsMask,
        (0 << 3) | 3 => Psr.Uao & _pstateFlagsMask,
        _ => 0,
    };

    /// <summary>The PSTATE field system register <paramref name="key"/> (SSBS, DIT, PAN, UAO) names, or 0.</summary>
    private uint PstateFlagOfRegister(uint key) => key switch
    {
        SysReg.Ssbs => Psr.Ssbs & _pstateFlagsMask,
        SysReg.Dit => Psr.Dit & _pstateFlagsMask,
        SysReg.Pan => Psr.Pan & _pstateFlagsMask,
        SysReg.Uao => Psr.Uao & _pstateFlagsMask,
        _ => 0,
    };

    /// <summary>Sets or clears PSTATE field <paramref name="flag"/>.</summary>
    private void SetPstateFlag(uint flag, bool value)
    {
        State.PstateFlags = value ? State.PstateFlags | flag : State.PstateFlags & ~flag;
        OnPstateFlagsChanged();
    }

    /// <summary>After PSTATE was loaded from an SPSR (ERET, the VMM): drop the bits the model does not have.</summary>
    private void MaskPstateFlags()
    {
        State.PstateFlags &= _pstateFlagsMask;
        OnPstateFlagsChanged();
    }

    /// <summary>The extension fields on exception entry to EL1.</summary>
    private void EnterEl1PstateFlags()
    {
        uint flags = State.PstateFlags & ~(Psr.Ssbs | Psr.Uao | Psr.Btype);
        if ((State.SctlrEl1 & SctlrDssbs) != 0)
        {
            flags |= Psr.Ssbs;
        }

        if ((State.SctlrEl1 & SctlrSpan) == 0)
        {
            flags |= Psr.Pan;
        }

        State.PstateFlags = flags & _pstateFlagsMask;
        OnPstateFlagsChanged();
    }

    /// <summary>The SCTLR_EL1 bits of the extensions the guest may change: DSSBS with SSBS, SPAN with PAN, EnIA/EnIB/EnDA/EnDB with PAuth, BT0/BT1 with BTI.</summary>
    private ulong SctlrExtensionBits =>
        (Has(CpuFeatures.Ssbs) ? SctlrDssbs : 0) | (Has(CpuFeatures.Pan) ? SctlrSpan : 0) | SctlrPauthBits | SctlrBtiBits;

    /// <summary>Re-derives what depends on PAN: the TLB tag of privileged accesses (<see cref="UpdateTagEl"/>).</summary>
    private void OnPstateFlagsChanged() => UpdateTagEl();
}

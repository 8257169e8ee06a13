using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>X0..X30 plus an unused slot 31 (XZR/SP are resolved by the accessors).</summary>
[InlineArray(32)]
public struct XRegisterFile
{
    private ulong _element0;
}

/// <summary>V0..V31 as 64 little-endian halves: V[n] = (lanes[2n], lanes[2n+1]).</summary>
[InlineArray(64)]
public struct VRegisterFile
{
    private ulong _element0;
}

/// <summary>
/// The pointer authentication keys (FEAT_PAuth), each as its Lo then its Hi register: APIAKey, APIBKey,
/// APDAKey, APDBKey, APGAKey (system registers S3_0_C2_C1..C3_0..3).
/// </summary>
[InlineArray(10)]
public struct PacKeyFile
{
    private ulong _element0;
}

/// <summary>Sixteen debug breakpoint or watchpoint value/control registers.</summary>
[InlineArray(16)]
public struct DebugRegisterFile
{
    private ulong _element0;
}

/// <summary>
/// The architectural state of one AArch64 PE at EL0/EL1 (no EL2/EL3: the hypervisor is SoftKvm).
/// One struct, held by the CPU model and reached by ref; the hypervisor layer reads and writes it only
/// through the CPU model's API (one source of truth per register).
/// </summary>
public struct CpuState
{
    /// <summary>X0-X30 (slot 31 unused: XZR and SP are resolved by the accessors).</summary>
    public XRegisterFile X;

    /// <summary>SP_EL0.</summary>
    public ulong SpEl0;

    /// <summary>SP_EL1.</summary>
    public ulong SpEl1;

    /// <summary>The program counter.</summary>
    public ulong Pc;

    /// <summary>PSTATE.NZCV in bits [31:28].</summary>
    public uint Nzcv;

    /// <summary>PSTATE.DAIF in bits [9:6] (D=9, A=8, I=7, F=6).</summary>
    public uint Daif;

    /// <summary>PSTATE.EL: 0 or 1.</summary>
    public int El;

    /// <summary>PSTATE.SP: at EL1, true selects SP_EL1.</summary>
    public bool SpSel;

    /// <summary>PSTATE.SS (software step).</summary>
    public bool SoftwareStep;

    /// <summary>PSTATE.IL (illegal execution state).</summary>
    public bool IllegalState;

    /// <summary>V0-V31 as 64-bit halves: V[2n] is the low half of Vn, V[2n + 1] the high half.</summary>
    public VRegisterFile V;

    /// <summary>FPCR.</summary>
    public uint Fpcr;

    /// <summary>FPSR.</summary>
    public uint Fpsr;

    /// <summary>SCTLR_EL1.</summary>
    public ulong SctlrEl1;

    /// <summary>ACTLR_EL1.</summary>
    public ulong ActlrEl1;

    /// <summary>CPACR_EL1.</summary>
    public ulong CpacrEl1;

    /// <summary>TCR_EL1.</summary>
    public ulong TcrEl1;

    /// <summary>TTBR0_EL1.</summary>
    public ulong Ttbr0El1;

    /// <summary>TTBR1_EL1.</summary>
    public ulong Ttbr1El1;

    /// <summary>MAIR_EL1.</summary>
    public ulong MairEl1;

    /// <summary>AMAIR_EL1.</summary>
    public ulong AmairEl1;

    /// <summary>VBAR_EL1.</summary>
    public ulong VbarEl1;

    /// <summary>ELR_EL1.</summary>
    public ulong ElrEl1;

    /// <summary>SPSR_EL1.</summary>
    public ulong SpsrEl1;

    /// <summary>ESR_EL1.</summary>
    public ulong EsrEl1;

    /// <summary>FAR_EL1.</summary>
    public ulong FarEl1;

    /// <summary>AFSR0_EL1.</summary>
    public ulong Afsr0El1;

    /// <summary>AFSR1_EL1.</summary>
    public ulong Afsr1El1;

    /// <summary>PAR_EL1.</summary>
    public ulong ParEl1;

    /// <summary>CONTEXTIDR_EL1.</summary>
    public ulong ContextidrEl1;

    /// <summary>TPIDR_EL0.</summary>
    public ulong TpidrEl0;

    /// <summary>TPIDRRO_EL0.</summary>
    public ulong TpidrroEl0;

    /// <summary>TPIDR_EL1.</summary>
    public ulong TpidrEl1;

    /// <summary>CSSELR_EL1.</summary>
    public ulong CsselrEl1;

    /// <summary>MDSCR_EL1.</summary>
    public ulong MdscrEl1;

    /// <summary>OSLSR_EL1.</summary>
    public ulong OslsrEl1;

    /// <summary>MDCCINT_EL1.</summary>
    public ulong MdccintEl1;

    /// <summary>CNTKCTL_EL1.</summary>
    public ulong CntkctlEl1;

    /// <summary>CNTV_CTL_EL0.</summary>
    public ulong CntvCtlEl0;

    /// <summary>CNTV_CVAL_EL0.</summary>
    public ulong CntvCvalEl0;

    /// <summary>CNTP_CTL_EL0.</summary>
    public ulong CntpCtlEl0;

    /// <summary>CNTP_CVAL_EL0.</summary>
    public ulong CntpCvalEl0;

    /// <summary>SPSR_abt (AArch32 banked, kept for MSR/MRS only).</summary>
    public ulong SpsrAbt;

    /// <summary>SPSR_und (AArch32 banked, kept for MSR/MRS only).</summary>
    public ulong SpsrUnd;

    /// <summary>SPSR_irq (AArch32 banked, kept for MSR/MRS only).</summary>
    public ulong SpsrIrq;

    /// <summary>SPSR_fiq (AArch32 banked, kept for MSR/MRS only).</summary>
    public ulong SpsrFiq;

    /// <summary>DBGBVR&lt;n&gt;_EL1 (breakpoint values).</summary>
    public DebugRegisterFile Dbgbvr;

    /// <summary>DBGBCR&lt;n&gt;_EL1 (breakpoint controls).</summary>
    public DebugRegisterFile Dbgbcr;

    /// <summary>DBGWVR&lt;n&gt;_EL1 (watchpoint values).</summary>
    public DebugRegisterFile Dbgwvr;

    /// <summary>DBGWCR&lt;n&gt;_EL1 (watchpoint controls).</summary>
    public DebugRegisterFile Dbgwcr;

    /// <summary>
    /// PSTATE.SSBS (bit 12), PAN (22), UAO (23) and DIT (24) at their SPSR positions; only the bits of the
    /// features the CPU model implements are ever set (the others are RES0). Placed after every other
    /// field so the offsets of the fields before it are unchanged.
    /// </summary>
    public uint PstateFlags;

    /// <summary>The pointer authentication keys (FEAT_PAuth; zero and inaccessible on a model without it). After <see cref="PstateFlags"/>.</summary>
    public PacKeyFile PacKeys;

    /// <summary>The current PSTATE as an SPSR value (AArch64 format).</summary>
    public readonly ulong Pstate
    {
        get
        {
            ulong v = Nzcv | Daif | PstateFlags | ((ulong)El << 2);
            if (El != 0 && SpSel)
            {
                v |= 1;
            }

            if (SoftwareStep)
            {
                v |= Psr.SS;
            }

            if (IllegalState)
            {
                v |= Psr.IL;
            }

            return v;
        }
    }

    /// <summary>Loads PSTATE from an SPSR value; returns false, changing nothing, for an illegal return state (AArch32, EL2/3, a reserved mode).</summary>
    public bool TrySetPstate(ulong spsr)
    {
        // M[4:0]: only the AArch64 modes of EL0 and EL1 exist here (EL0t 0b00000, EL1t 0b00100, EL1h
        // 0b00101); AArch32 (M[4]), EL2/EL3 and the reserved encodings (M[1] set) are illegal.
        if ((spsr & 0x1F) is not (0b00000 or 0b00100 or 0b00101))
        {
            return false;
        }

        int el = (int)(spsr >> 2) & 3;
        Nzcv = (uint)spsr & 0xF000_0000;
        Daif = (uint)spsr & 0x3C0;
        El = el;
        SpSel = (spsr & 1) != 0;
        SoftwareStep = (spsr & Psr.SS) != 0;
        PstateFlags = (uint)spsr & Psr.FlagsMask;
        IllegalState = false;
        return true;
    }
}

/// <summary>SPSR/PSTATE bit positions (Arm ARM C5.2.18).</summary>
internal static class Psr
{
    public const ulong nRW = 1UL << 4;
    public const ulong SS = 1UL << 21;
    public const ulong IL = 1UL << 20;
    public const uint Ssbs = 1U << 12;
    public const uint Pan = 1U << 22;
    public const uint Uao = 1U << 23;
    public const uint Dit = 1U << 24;

    /// <summary>PSTATE.BTYPE (FEAT_BTI), bits [11:10].</summary>
    public const uint Btype = 3U << 10;
    public const int BtypeShift = 10;

    /// <summary>The bits of <see cref="CpuState.PstateFlags"/>.</summary>
    public const uint FlagsMask = Ssbs | Pan | Uao | Dit | Btype;
    public const uint D = 1U << 9;
    public const uint A = 1U << 8;
    public const uint I = 1U << 7;
    public const uint F = 1U << 6;
    public const uint DaifMask = D | A | I | F;

    /// <summary>KVM's reset PSTATE: EL1h with D, A, I, F masked (0x3c5).</summary>
    public const ulong ResetEl1h = 0x3C5;
}

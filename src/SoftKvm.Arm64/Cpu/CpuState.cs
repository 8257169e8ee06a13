using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>X0..X30 plus an unused slot 31 (XZR/SP are resolved by the accessors).</summary>
[InlineArray(32)]
internal struct XRegisterFile
{
    private ulong _element0;
}

/// <summary>V0..V31 as 64 little-endian halves: V[n] = (lanes[2n], lanes[2n+1]).</summary>
[InlineArray(64)]
internal struct VRegisterFile
{
    private ulong _element0;
}

/// <summary>Sixteen debug breakpoint or watchpoint value/control registers.</summary>
[InlineArray(16)]
internal struct DebugRegisterFile
{
    private ulong _element0;
}

/// <summary>
/// The architectural state of one AArch64 PE at EL0/EL1 (no EL2/EL3: the hypervisor is SoftKvm).
/// One struct, held by the CPU model and reached by ref; the hypervisor layer reads and writes it only
/// through the CPU model's API (one source of truth per register).
/// </summary>
internal struct CpuState
{
    public XRegisterFile X;
    public ulong SpEl0;
    public ulong SpEl1;
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

    public VRegisterFile V;
    public uint Fpcr;
    public uint Fpsr;

    public ulong SctlrEl1;
    public ulong ActlrEl1;
    public ulong CpacrEl1;
    public ulong TcrEl1;
    public ulong Ttbr0El1;
    public ulong Ttbr1El1;
    public ulong MairEl1;
    public ulong AmairEl1;
    public ulong VbarEl1;
    public ulong ElrEl1;
    public ulong SpsrEl1;
    public ulong EsrEl1;
    public ulong FarEl1;
    public ulong Afsr0El1;
    public ulong Afsr1El1;
    public ulong ParEl1;
    public ulong ContextidrEl1;
    public ulong TpidrEl0;
    public ulong TpidrroEl0;
    public ulong TpidrEl1;
    public ulong CsselrEl1;
    public ulong MdscrEl1;
    public ulong OslsrEl1;
    public ulong MdccintEl1;
    public ulong CntkctlEl1;
    public ulong CntvCtlEl0;
    public ulong CntvCvalEl0;
    public ulong CntpCtlEl0;
    public ulong CntpCvalEl0;
    public ulong SpsrAbt;
    public ulong SpsrUnd;
    public ulong SpsrIrq;
    public ulong SpsrFiq;
    public DebugRegisterFile Dbgbvr;
    public DebugRegisterFile Dbgbcr;
    public DebugRegisterFile Dbgwvr;
    public DebugRegisterFile Dbgwcr;

    /// <summary>The current PSTATE as an SPSR value (AArch64 format).</summary>
    public readonly ulong Pstate
    {
        get
        {
            ulong v = Nzcv | Daif | ((ulong)El << 2);
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
    public const uint D = 1U << 9;
    public const uint A = 1U << 8;
    public const uint I = 1U << 7;
    public const uint F = 1U << 6;
    public const uint DaifMask = D | A | I | F;

    /// <summary>KVM's reset PSTATE: EL1h with D, A, I, F masked (0x3c5).</summary>
    public const ulong ResetEl1h = 0x3C5;
}

using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>Exception classes and syndrome fields of ESR_ELx (Arm ARM D17.2.37), and fault status codes.</summary>
public static class Esr
{
    /// <summary>EC 0x00: unknown reason (UNDEFINED instructions).</summary>
    public const uint EcUnknown = 0x00;

    /// <summary>EC 0x01: a trapped WFI or WFE.</summary>
    public const uint EcWfx = 0x01;

    /// <summary>EC 0x07: FP/SIMD access trapped by CPACR_EL1.FPEN.</summary>
    public const uint EcFpAccess = 0x07;

    /// <summary>EC 0x0D: Branch Target exception (FEAT_BTI; ISS = PSTATE.BTYPE).</summary>
    public const uint EcBranchTarget = 0x0D;

    /// <summary>EC 0x0E: illegal execution state (PSTATE.IL).</summary>
    public const uint EcIllegalState = 0x0E;

    /// <summary>EC 0x15: SVC in AArch64.</summary>
    public const uint EcSvc64 = 0x15;

    /// <summary>EC 0x16: HVC in AArch64.</summary>
    public const uint EcHvc64 = 0x16;

    /// <summary>EC 0x17: SMC in AArch64.</summary>
    public const uint EcSmc64 = 0x17;

    /// <summary>EC 0x18: a trapped MSR, MRS or system instruction.</summary>
    public const uint EcSysReg = 0x18;

    /// <summary>EC 0x20: instruction abort from a lower exception level.</summary>
    public const uint EcIabtLow = 0x20;

    /// <summary>EC 0x21: instruction abort without a change of exception level.</summary>
    public const uint EcIabtCur = 0x21;

    /// <summary>EC 0x22: PC alignment fault.</summary>
    public const uint EcPcAlign = 0x22;

    /// <summary>EC 0x24: data abort from a lower exception level.</summary>
    public const uint EcDabtLow = 0x24;

    /// <summary>EC 0x25: data abort without a change of exception level.</summary>
    public const uint EcDabtCur = 0x25;

    /// <summary>EC 0x26: SP alignment fault.</summary>
    public const uint EcSpAlign = 0x26;

    /// <summary>EC 0x30: hardware breakpoint from a lower exception level.</summary>
    public const uint EcBreakpointLow = 0x30;

    /// <summary>EC 0x31: hardware breakpoint without a change of exception level.</summary>
    public const uint EcBreakpointCur = 0x31;

    /// <summary>EC 0x32: software step from a lower exception level.</summary>
    public const uint EcSoftStepLow = 0x32;

    /// <summary>EC 0x33: software step without a change of exception level.</summary>
    public const uint EcSoftStepCur = 0x33;

    /// <summary>EC 0x34: watchpoint from a lower exception level.</summary>
    public const uint EcWatchpointLow = 0x34;

    /// <summary>EC 0x35: watchpoint without a change of exception level.</summary>
    public const uint EcWatchpointCur = 0x35;

    /// <summary>EC 0x3C: BRK in AArch64.</summary>
    public const uint EcBrk64 = 0x3C;

    /// <summary>IL: the trapped instruction is 32 bits long.</summary>
    public const ulong Il = 1UL << 25;

    /// <summary>Data abort ISS.ISV: the syndrome fields SAS, SSE, SRT, SF and AR are valid.</summary>
    public const uint IssIsv = 1u << 24;

    /// <summary>Data abort ISS.SAS (access size, log2 bytes) position.</summary>
    public const int IssSasShift = 22;

    /// <summary>Data abort ISS.SSE: the load sign-extends.</summary>
    public const uint IssSse = 1u << 21;

    /// <summary>Data abort ISS.SRT (the transfer register) position.</summary>
    public const int IssSrtShift = 16;

    /// <summary>Data abort ISS.SF: the transfer register is 64 bits wide.</summary>
    public const uint IssSf = 1u << 15;

    /// <summary>Data abort ISS.AR: acquire/release semantics.</summary>
    public const uint IssAr = 1u << 14;

    /// <summary>Data abort ISS.CM: a cache maintenance instruction faulted.</summary>
    public const uint IssCm = 1u << 8;

    /// <summary>Data abort ISS.S1PTW: the fault happened on a stage-1 translation table walk.</summary>
    public const uint IssS1ptw = 1u << 7;

    /// <summary>Data abort ISS.WnR: the access was a write.</summary>
    public const uint IssWnR = 1u << 6;

    /// <summary>The ISS bits KVM passes to userspace in a NISV exit: CM, WnR, DFSC.</summary>
    public const ulong NisvMask = IssCm | IssWnR | 0x3F;

    /// <summary>Fault status: address size fault (level 0; add the level).</summary>
    public const uint FscAddressSize = 0x00;

    /// <summary>Fault status: translation fault (level 0; add the level).</summary>
    public const uint FscTranslation = 0x04;

    /// <summary>Fault status: access flag fault (level 0; add the level).</summary>
    public const uint FscAccessFlag = 0x08;

    /// <summary>Fault status: permission fault (level 0; add the level).</summary>
    public const uint FscPermission = 0x0C;

    /// <summary>Fault status: synchronous external abort, not on a table walk.</summary>
    public const uint FscExternal = 0x10;

    /// <summary>Fault status: synchronous external abort on a table walk (level 0; add the level).</summary>
    public const uint FscExternalWalk = 0x14;

    /// <summary>Fault status: alignment fault.</summary>
    public const uint FscAlignment = 0x21;

    /// <summary>Fault status: debug event (watchpoint).</summary>
    public const uint FscDebug = 0x22;

    /// <summary>Builds ESR_ELx from a class and an ISS (IL = 1: every A64 instruction is 32 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Make(uint ec, uint iss) => ((ulong)ec << 26) | Il | (iss & 0x1FF_FFFF);

    /// <summary>The class of <paramref name="esr"/>.</summary>
    public static uint Class(ulong esr) => (uint)(esr >> 26) & 0x3F;
}

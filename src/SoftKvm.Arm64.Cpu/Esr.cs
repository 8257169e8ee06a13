namespace SoftKvm.Arm64.Cpu;

/// <summary>Exception classes and syndrome fields of ESR_ELx (Arm ARM D17.2.37), and fault status codes.</summary>
internal static class Esr
{
    public const uint EcUnknown = 0x00;
    public const uint EcWfx = 0x01;
    public const uint EcFpAccess = 0x07;
    public const uint EcIllegalState = 0x0E;
    public const uint EcSvc64 = 0x15;
    public const uint EcHvc64 = 0x16;
    public const uint EcSmc64 = 0x17;
    public const uint EcSysReg = 0x18;
    public const uint EcIabtLow = 0x20;
    public const uint EcIabtCur = 0x21;
    public const uint EcPcAlign = 0x22;
    public const uint EcDabtLow = 0x24;
    public const uint EcDabtCur = 0x25;
    public const uint EcSpAlign = 0x26;
    public const uint EcBreakpointLow = 0x30;
    public const uint EcBreakpointCur = 0x31;
    public const uint EcSoftStepLow = 0x32;
    public const uint EcSoftStepCur = 0x33;
    public const uint EcWatchpointLow = 0x34;
    public const uint EcWatchpointCur = 0x35;
    public const uint EcBrk64 = 0x3C;

    public const ulong Il = 1UL << 25;

    public const uint IssIsv = 1u << 24;
    public const int IssSasShift = 22;
    public const uint IssSse = 1u << 21;
    public const int IssSrtShift = 16;
    public const uint IssSf = 1u << 15;
    public const uint IssAr = 1u << 14;
    public const uint IssCm = 1u << 8;
    public const uint IssS1ptw = 1u << 7;
    public const uint IssWnR = 1u << 6;

    /// <summary>The ISS bits KVM passes to userspace in a NISV exit: CM, WnR, DFSC.</summary>
    public const ulong NisvMask = IssCm | IssWnR | 0x3F;

    public const uint FscAddressSize = 0x00;
    public const uint FscTranslation = 0x04;
    public const uint FscAccessFlag = 0x08;
    public const uint FscPermission = 0x0C;
    public const uint FscExternal = 0x10;
    public const uint FscExternalWalk = 0x14;
    public const uint FscAlignment = 0x21;
    public const uint FscDebug = 0x22;

    /// <summary>Builds ESR_ELx from a class and an ISS (IL = 1: every A64 instruction is 32 bits).</summary>
    public static ulong Make(uint ec, uint iss) => ((ulong)ec << 26) | Il | (iss & 0x1FF_FFFF);

    /// <summary>The class of <paramref name="esr"/>.</summary>
    public static uint Class(ulong esr) => (uint)(esr >> 26) & 0x3F;
}

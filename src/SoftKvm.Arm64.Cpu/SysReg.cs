namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// System register encodings as packed by <see cref="SysRegKey"/> (op0&lt;&lt;14 | op1&lt;&lt;11 |
/// CRn&lt;&lt;7 | CRm&lt;&lt;3 | op2 = instruction bits [20:5]), named as in the Arm ARM.
/// </summary>
internal static class SysReg
{
    public const uint MidrEl1 = (3 << 14) | (0 << 11) | (0 << 7) | (0 << 3) | 0;
    public const uint MpidrEl1 = (3 << 14) | (0 << 11) | (0 << 7) | (0 << 3) | 5;
    public const uint RevidrEl1 = (3 << 14) | (0 << 11) | (0 << 7) | (0 << 3) | 6;
    public const uint IdAa64Pfr0El1 = (3 << 14) | (0 << 11) | (0 << 7) | (4 << 3) | 0;
    public const uint IdAa64Pfr1El1 = (3 << 14) | (0 << 11) | (0 << 7) | (4 << 3) | 1;
    public const uint IdAa64Dfr0El1 = (3 << 14) | (0 << 11) | (0 << 7) | (5 << 3) | 0;
    public const uint IdAa64Isar0El1 = (3 << 14) | (0 << 11) | (0 << 7) | (6 << 3) | 0;
    public const uint IdAa64Isar1El1 = (3 << 14) | (0 << 11) | (0 << 7) | (6 << 3) | 1;
    public const uint IdAa64Mmfr0El1 = (3 << 14) | (0 << 11) | (0 << 7) | (7 << 3) | 0;
    public const uint IdAa64Mmfr1El1 = (3 << 14) | (0 << 11) | (0 << 7) | (7 << 3) | 1;
    public const uint IdAa64Mmfr2El1 = (3 << 14) | (0 << 11) | (0 << 7) | (7 << 3) | 2;
    public const uint CcsidrEl1 = (3 << 14) | (1 << 11) | (0 << 7) | (0 << 3) | 0;
    public const uint ClidrEl1 = (3 << 14) | (1 << 11) | (0 << 7) | (0 << 3) | 1;
    public const uint AidrEl1 = (3 << 14) | (1 << 11) | (0 << 7) | (0 << 3) | 7;
    public const uint CsselrEl1 = (3 << 14) | (2 << 11) | (0 << 7) | (0 << 3) | 0;
    public const uint CtrEl0 = (3 << 14) | (3 << 11) | (0 << 7) | (0 << 3) | 1;
    public const uint DczidEl0 = (3 << 14) | (3 << 11) | (0 << 7) | (0 << 3) | 7;
    public const uint SctlrEl1 = (3 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 0;
    public const uint ActlrEl1 = (3 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 1;
    public const uint CpacrEl1 = (3 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 2;
    public const uint Ttbr0El1 = (3 << 14) | (0 << 11) | (2 << 7) | (0 << 3) | 0;
    public const uint Ttbr1El1 = (3 << 14) | (0 << 11) | (2 << 7) | (0 << 3) | 1;
    public const uint TcrEl1 = (3 << 14) | (0 << 11) | (2 << 7) | (0 << 3) | 2;
    public const uint SpsrEl1 = (3 << 14) | (0 << 11) | (4 << 7) | (0 << 3) | 0;
    public const uint ElrEl1 = (3 << 14) | (0 << 11) | (4 << 7) | (0 << 3) | 1;
    public const uint SpEl0 = (3 << 14) | (0 << 11) | (4 << 7) | (1 << 3) | 0;
    public const uint SpSel = (3 << 14) | (0 << 11) | (4 << 7) | (2 << 3) | 0;
    public const uint CurrentEl = (3 << 14) | (0 << 11) | (4 << 7) | (2 << 3) | 2;
    public const uint IccPmrEl1 = (3 << 14) | (0 << 11) | (4 << 7) | (6 << 3) | 0;
    public const uint IccEoir1El1 = (3 << 14) | (0 << 11) | (12 << 7) | (12 << 3) | 1;
    public const uint Pan = (3 << 14) | (0 << 11) | (4 << 7) | (2 << 3) | 3;
    public const uint Uao = (3 << 14) | (0 << 11) | (4 << 7) | (2 << 3) | 4;
    public const uint Dit = (3 << 14) | (3 << 11) | (4 << 7) | (2 << 3) | 5;
    public const uint Ssbs = (3 << 14) | (3 << 11) | (4 << 7) | (2 << 3) | 6;
    public const uint Tco = (3 << 14) | (3 << 11) | (4 << 7) | (2 << 3) | 7;
    public const uint GcrEl1 = (3 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 6;
    public const uint RgsrEl1 = (3 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 5;
    public const uint TfsrEl1 = (3 << 14) | (0 << 11) | (5 << 7) | (6 << 3) | 0;
    public const uint TfsrE0El1 = (3 << 14) | (0 << 11) | (5 << 7) | (6 << 3) | 1;
    public const uint GmidEl1 = (3 << 14) | (1 << 11) | (0 << 7) | (0 << 3) | 4;
    public const uint Nzcv = (3 << 14) | (3 << 11) | (4 << 7) | (2 << 3) | 0;
    public const uint Daif = (3 << 14) | (3 << 11) | (4 << 7) | (2 << 3) | 1;
    public const uint Fpcr = (3 << 14) | (3 << 11) | (4 << 7) | (4 << 3) | 0;
    public const uint Fpsr = (3 << 14) | (3 << 11) | (4 << 7) | (4 << 3) | 1;
    public const uint Afsr0El1 = (3 << 14) | (0 << 11) | (5 << 7) | (1 << 3) | 0;
    public const uint Afsr1El1 = (3 << 14) | (0 << 11) | (5 << 7) | (1 << 3) | 1;
    public const uint EsrEl1 = (3 << 14) | (0 << 11) | (5 << 7) | (2 << 3) | 0;
    public const uint FarEl1 = (3 << 14) | (0 << 11) | (6 << 7) | (0 << 3) | 0;
    public const uint ParEl1 = (3 << 14) | (0 << 11) | (7 << 7) | (4 << 3) | 0;
    public const uint MairEl1 = (3 << 14) | (0 << 11) | (10 << 7) | (2 << 3) | 0;
    public const uint AmairEl1 = (3 << 14) | (0 << 11) | (10 << 7) | (3 << 3) | 0;
    public const uint VbarEl1 = (3 << 14) | (0 << 11) | (12 << 7) | (0 << 3) | 0;
    public const uint IsrEl1 = (3 << 14) | (0 << 11) | (12 << 7) | (1 << 3) | 0;
    public const uint ContextidrEl1 = (3 << 14) | (0 << 11) | (13 << 7) | (0 << 3) | 1;
    public const uint TpidrEl1 = (3 << 14) | (0 << 11) | (13 << 7) | (0 << 3) | 4;
    public const uint TpidrEl0 = (3 << 14) | (3 << 11) | (13 << 7) | (0 << 3) | 2;
    public const uint TpidrroEl0 = (3 << 14) | (3 << 11) | (13 << 7) | (0 << 3) | 3;
    public const uint CntkctlEl1 = (3 << 14) | (0 << 11) | (14 << 7) | (1 << 3) | 0;
    public const uint CntfrqEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (0 << 3) | 0;
    public const uint CntpctEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (0 << 3) | 1;
    public const uint CntvctEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (0 << 3) | 2;
    public const uint CntpTvalEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (2 << 3) | 0;
    public const uint CntpCtlEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (2 << 3) | 1;
    public const uint CntpCvalEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (2 << 3) | 2;
    public const uint CntvTvalEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (3 << 3) | 0;
    public const uint CntvCtlEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (3 << 3) | 1;
    public const uint CntvCvalEl0 = (3 << 14) | (3 << 11) | (14 << 7) | (3 << 3) | 2;
    public const uint MdccintEl1 = (2 << 14) | (0 << 11) | (0 << 7) | (2 << 3) | 0;
    public const uint MdscrEl1 = (2 << 14) | (0 << 11) | (0 << 7) | (2 << 3) | 2;
    public const uint MdrarEl1 = (2 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 0;
    public const uint OslarEl1 = (2 << 14) | (0 << 11) | (1 << 7) | (0 << 3) | 4;
    public const uint OslsrEl1 = (2 << 14) | (0 << 11) | (1 << 7) | (1 << 3) | 4;
    public const uint OsdlrEl1 = (2 << 14) | (0 << 11) | (1 << 7) | (3 << 3) | 4;
    public const uint DbgprcrEl1 = (2 << 14) | (0 << 11) | (1 << 7) | (4 << 3) | 4;
    public const uint DbgclaimsetEl1 = (2 << 14) | (0 << 11) | (7 << 7) | (8 << 3) | 6;
    public const uint DbgclaimclrEl1 = (2 << 14) | (0 << 11) | (7 << 7) | (9 << 3) | 6;
    public const uint DbgauthstatusEl1 = (2 << 14) | (0 << 11) | (7 << 7) | (14 << 3) | 6;
    public const uint MdccsrEl0 = (2 << 14) | (3 << 11) | (0 << 7) | (1 << 3) | 0;

    /// <summary>ID_AA64DFR0_EL1.PMUVer [11:8] = 6, PMUv3p5 (64-bit event counters with PMCR_EL0.LP), when the vCPU has a PMU.</summary>
    public const ulong Dfr0PmuV3p5 = 6UL << 8;

    public const ulong CtrValue = 0x8444_C004;
    public const ulong ClidrValue = 0x0A20_0023;
}

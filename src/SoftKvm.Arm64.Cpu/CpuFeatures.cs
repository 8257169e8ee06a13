namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The optional architecture features (Arm ARM DDI 0487, A2 "Armv8-A architecture extensions") a
/// <see cref="CpuModel"/> implements beyond ARMv8.0 with CRC32. Each flag is implemented fully where a
/// model has it and UNDEFINED (or RES0, for PSTATE and system-register fields) where it has not; the ID
/// registers of <see cref="CpuModel"/> are derived from these flags, so they advertise exactly this set.
/// </summary>
[Flags]
public enum CpuFeatures : ulong
{
    /// <summary>ARMv8.0 with CRC32 only.</summary>
    None = 0,

    /// <summary>FEAT_LSE: CAS, CASP, LD&lt;op&gt;, ST&lt;op&gt;, SWP (ID_AA64ISAR0_EL1.Atomic = 2).</summary>
    Lse = 1UL << 0,

    /// <summary>FEAT_LRCPC: LDAPR (ID_AA64ISAR1_EL1.LRCPC = 1).</summary>
    Lrcpc = 1UL << 1,

    /// <summary>FEAT_LRCPC2: LDAPUR/STLUR (ID_AA64ISAR1_EL1.LRCPC = 2).</summary>
    Lrcpc2 = 1UL << 2,

    /// <summary>FEAT_RDM: SQRDMLAH, SQRDMLSH (ID_AA64ISAR0_EL1.RDM = 1).</summary>
    Rdm = 1UL << 3,

    /// <summary>FEAT_DotProd: SDOT, UDOT (ID_AA64ISAR0_EL1.DP = 1).</summary>
    DotProd = 1UL << 4,

    /// <summary>FEAT_FlagM: CFINV, RMIF, SETF8, SETF16 (ID_AA64ISAR0_EL1.TS = 1).</summary>
    FlagM = 1UL << 5,

    /// <summary>FEAT_FlagM2: AXFLAG, XAFLAG (ID_AA64ISAR0_EL1.TS = 2).</summary>
    FlagM2 = 1UL << 6,

    /// <summary>FEAT_FRINTTS: FRINT32Z/X, FRINT64Z/X (ID_AA64ISAR1_EL1.FRINTTS = 1).</summary>
    FrintTs = 1UL << 7,

    /// <summary>FEAT_SB: the SB speculation barrier (ID_AA64ISAR1_EL1.SB = 1).</summary>
    Sb = 1UL << 8,

    /// <summary>FEAT_SSBS/SSBS2: PSTATE.SSBS, MSR/MRS SSBS (ID_AA64PFR1_EL1.SSBS = 2).</summary>
    Ssbs = 1UL << 9,

    /// <summary>FEAT_DIT: PSTATE.DIT, MSR/MRS DIT (ID_AA64PFR0_EL1.DIT = 1).</summary>
    Dit = 1UL << 10,

    /// <summary>FEAT_JSCVT: FJCVTZS (ID_AA64ISAR1_EL1.JSCVT = 1).</summary>
    Jscvt = 1UL << 11,

    /// <summary>FEAT_FCMA: FCMLA, FCADD (ID_AA64ISAR1_EL1.FCMA = 1).</summary>
    Fcma = 1UL << 12,

    /// <summary>FEAT_AES and FEAT_PMULL: AESE/AESD/AESMC/AESIMC, PMULL(2) 64-bit (ID_AA64ISAR0_EL1.AES = 2).</summary>
    Aes = 1UL << 13,

    /// <summary>FEAT_SHA1 (ID_AA64ISAR0_EL1.SHA1 = 1).</summary>
    Sha1 = 1UL << 14,

    /// <summary>FEAT_SHA256 (ID_AA64ISAR0_EL1.SHA2 = 1).</summary>
    Sha256 = 1UL << 15,

    /// <summary>FEAT_SHA512 (ID_AA64ISAR0_EL1.SHA2 = 2).</summary>
    Sha512 = 1UL << 16,

    /// <summary>FEAT_SHA3: EOR3, RAX1, XAR, BCAX (ID_AA64ISAR0_EL1.SHA3 = 1).</summary>
    Sha3 = 1UL << 17,

    /// <summary>FEAT_SM3 (ID_AA64ISAR0_EL1.SM3 = 1).</summary>
    Sm3 = 1UL << 18,

    /// <summary>FEAT_SM4 (ID_AA64ISAR0_EL1.SM4 = 1).</summary>
    Sm4 = 1UL << 19,

    /// <summary>FEAT_PAN (ID_AA64MMFR1_EL1.PAN = 1).</summary>
    Pan = 1UL << 20,

    /// <summary>FEAT_UAO (ID_AA64MMFR2_EL1.UAO = 1).</summary>
    Uao = 1UL << 21,

    /// <summary>FEAT_DPB: DC CVAP (ID_AA64ISAR1_EL1.DPB = 1).</summary>
    Dpb = 1UL << 22,

    /// <summary>FEAT_DPB2: DC CVADP (ID_AA64ISAR1_EL1.DPB = 2).</summary>
    Dpb2 = 1UL << 23,

    /// <summary>FEAT_TTCNP: TTBRn_EL1.CnP is accepted (a hint; ID_AA64MMFR2_EL1.CnP = 1).</summary>
    Cnp = 1UL << 24,

    /// <summary>FEAT_TTL: the translation-level hint in TLBI operands (ignored: a hint; ID_AA64MMFR2_EL1.TTL = 1).</summary>
    Ttl = 1UL << 25,

    /// <summary>FEAT_E0PD: TCR_EL1.E0PD0/E0PD1 make EL0 accesses to a half fault (ID_AA64MMFR2_EL1.E0PD = 1).</summary>
    E0pd = 1UL << 26,

    /// <summary>
    /// FEAT_CSV2 and FEAT_CSV3: nothing is executed speculatively, so no branch-target or cross-privilege
    /// data speculation exists to mitigate (ID_AA64PFR0_EL1.CSV2 = 1, CSV3 = 1: Linux then needs no KPTI
    /// and no Spectre-v2 workaround), and FEAT_ECBHB: no branch history either (ID_AA64MMFR1_EL1.ECBHB = 1:
    /// Spectre-BHB mitigated by the hardware). True of SoftKvm's CPU whatever the model; only max says so.
    /// </summary>
    NoSpeculation = 1UL << 27,

    /// <summary>
    /// FEAT_PAuth: the pointer authentication instructions (PAC*, AUT*, XPAC*, PACGA, RETA*, BRA*, BLRA*,
    /// ERETA*, LDRA*) and the key registers; ID_AA64ISAR1_EL1 says APA/GPA = 1 (QARMA5) or API/GPI = 1
    /// (the IMPDEF algorithm) after <see cref="CpuModel.PacAlgorithm"/>. No EnhancedPAC2 or FPAC.
    /// </summary>
    Pauth = 1UL << 40,

    /// <summary>FEAT_BTI: BTI, PSTATE.BTYPE, guarded pages, the Branch Target exception (ID_AA64PFR1_EL1.BT = 1).</summary>
    Bti = 1UL << 41,

    /// <summary>
    /// FEAT_MTE and FEAT_MTE2: allocation tags, IRG/GMI/ADDG/SUBG/SUBP(S), the tag loads and stores, tag
    /// checks with synchronous and asynchronous faults (ID_AA64PFR1_EL1.MTE = 2).
    /// </summary>
    Mte = 1UL << 42,

    /// <summary>FEAT_MTE3: the asymmetric tag-check mode, TCF = 3 (ID_AA64PFR1_EL1.MTE = 3).</summary>
    Mte3 = 1UL << 43,

    /// <summary>
    /// FEAT_FP16: half-precision arithmetic, scalar and Advanced SIMD (ID_AA64PFR0_EL1.FP = 1, AdvSIMD = 1).
    /// </summary>
    Fp16 = 1UL << 44,
}

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// A CPU model: the identity (MIDR_EL1) and the optional features (<see cref="CpuFeatures"/>) a PE has,
/// given to <see cref="Arm64Cpu"/> when it is created, as KVM_ARM_VCPU_INIT gives a vCPU its target and
/// features. The ID registers are derived from <see cref="Features"/> here, in one place, so a model
/// advertises exactly what the CPU implements for it. <see cref="CortexA57"/> (ARMv8.0 with CRC32, the
/// default) and <see cref="Max"/> (everything SoftKvm implements, like QEMU's <c>-cpu max</c>).
/// </summary>
public sealed class CpuModel
{
    private CpuModel(string name, string description, ulong midr, CpuFeatures features, PacAlgorithm pac = DefaultPacAlgorithm)
    {
        Name = name;
        Description = description;
        Midr = midr;
        Features = features;
        PacAlgorithm = pac;
    }

    /// <summary>A Cortex-A57 r1p0: ARMv8.0 with CRC32.</summary>
    public static CpuModel CortexA57 { get; } = new("cortex-a57", "Cortex-A57 r1p0: ARMv8.0 with CRC32 (the default)", 0x411F_D070, CpuFeatures.None);

    /// <summary>
    /// Every optional feature SoftKvm implements. MIDR_EL1 has implementer 0 ("reserved for software
    /// use", as QEMU's max), so no erratum workaround of a real core applies to it.
    /// </summary>
    public static CpuModel Max { get; } = new("max", "every feature SoftKvm implements (ARMv8.1-v8.5 extensions)", 0x000F_0530,
        CpuFeatures.Lse | CpuFeatures.Lrcpc | CpuFeatures.Lrcpc2 | CpuFeatures.FlagM | CpuFeatures.FlagM2 | CpuFeatures.Sb
        | CpuFeatures.Ssbs | CpuFeatures.Dit | CpuFeatures.Rdm | CpuFeatures.DotProd | CpuFeatures.Fcma | CpuFeatures.Jscvt
        | CpuFeatures.FrintTs | CpuFeatures.Aes | CpuFeatures.Sha1 | CpuFeatures.Sha256
        | CpuFeatures.Sha512 | CpuFeatures.Sha3 | CpuFeatures.Sm3 | CpuFeatures.Sm4 | CpuFeatures.Pan | CpuFeatures.Uao | CpuFeatures.Cnp | CpuFeatures.Ttl | CpuFeatures.E0pd
        | CpuFeatures.Dpb | CpuFeatures.Dpb2 | CpuFeatures.NoSpeculation | CpuFeatures.Pauth | CpuFeatures.Bti
        | CpuFeatures.Mte | CpuFeatures.Mte3 | CpuFeatures.Fp16,
        DefaultPacAlgorithm);

    /// <summary>
    /// The pointer authentication algorithm of <see cref="Max"/> without a <c>pauth=</c> option: the IMPDEF one,
    /// chosen by measurement (docs/performance.md: Debian's kernel signs and authenticates a return address in
    /// most calls, about 15 per thousand instructions; its boot on max takes 4.7 s of CPU with it, 8.3 s with
    /// QARMA5, 3.2 s on cortex-a57).
    /// </summary>
    public const PacAlgorithm DefaultPacAlgorithm = PacAlgorithm.Impdef;

    /// <summary>The options <c>--cpu NAME,OPTION</c> takes (for <c>--cpu help</c>), on models with pointer authentication.</summary>
    public const string OptionsHelp = "pauth=impdef|qarma5: the pointer authentication algorithm (default impdef, the cheaper)";

    /// <summary>The models, the default first.</summary>
    public static IReadOnlyList<CpuModel> All { get; } = [CortexA57, Max];

    /// <summary>The model called <paramref name="name"/> (case-insensitive, without options), or null.</summary>
    public static CpuModel? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The model <paramref name="spec"/> names: <c>NAME[,pauth=qarma5|impdef]</c> (case-insensitive); null
    /// with <paramref name="error"/> (one line) for an unknown name or option, or an option the model has no use for.
    /// </summary>
    public static CpuModel? Parse(string spec, out string? error)
    {
        string[] parts = spec.Split(',');
        CpuModel? model = Find(parts[0]);
        if (model is null)
        {
            error = $"unknown CPU model '{parts[0].Trim()}'";
            return null;
        }

        foreach (string part in parts.Skip(1))
        {
            string option = part.Trim().ToLowerInvariant();
            PacAlgorithm? pac = option switch
            {
                "pauth=qarma5" => PacAlgorithm.Qarma5,
                "pauth=impdef" => PacAlgorithm.Impdef,
                _ => null,
            };
            if (pac is null || !model.Has(CpuFeatures.Pauth))
            {
                error = pac is null
                    ? $"unknown CPU option '{part.Trim()}' (expected {OptionsHelp.Split(':')[0]})"
                    : $"CPU option '{part.Trim()}' needs a model with pointer authentication ({model.Name} has none)";
                return null;
            }

            model = new CpuModel(model.Name, model.Description, model.Midr, model.Features, pac.Value);
        }

        error = null;
        return model;
    }

    /// <summary>
    /// The pointer authentication algorithm (with <see cref="CpuFeatures.Pauth"/>): QARMA5 as the Arm ARM's
    /// ComputePAC defines it, or SoftKvm's cheaper IMPDEF one; ID_AA64ISAR1_EL1 says which.
    /// </summary>
    public PacAlgorithm PacAlgorithm { get; }

    /// <summary><see cref="Name"/> with the options that differ from the model's defaults (what <see cref="Parse"/> reads back).</summary>
    public string Spec => Has(CpuFeatures.Pauth) && PacAlgorithm != DefaultPacAlgorithm ? $"{Name},pauth={PacAlgorithm.ToString().ToLowerInvariant()}" : Name;

    /// <summary>The name <c>--cpu</c> takes.</summary>
    public string Name { get; }

    /// <summary>One line for <c>--cpu help</c>.</summary>
    public string Description { get; }

    /// <summary>MIDR_EL1.</summary>
    public ulong Midr { get; }

    /// <summary>The optional features implemented.</summary>
    public CpuFeatures Features { get; }

    /// <summary>Whether every feature of <paramref name="f"/> is implemented.</summary>
    public bool Has(CpuFeatures f) => (Features & f) == f;

    /// <summary>ID_AA64PFR0_EL1 without the GIC field: EL0 and EL1 AArch64 only, FP and AdvSIMD (0, or 1 with FP16), DIT, CSV2, CSV3.</summary>
    public ulong IdAa64Pfr0 =>
        0x11 | Field(CpuFeatures.Fp16, 16, 1) | Field(CpuFeatures.Fp16, 20, 1) | Field(CpuFeatures.Dit, 48, 1)
        | Field(CpuFeatures.NoSpeculation, 56, 1) | Field(CpuFeatures.NoSpeculation, 60, 1);

    /// <summary>ID_AA64PFR1_EL1: BT, SSBS (2: PSTATE.SSBS with MSR/MRS SSBS), MTE (2: MTE2, 3: MTE3; MTE_frac 0: asynchronous faults).</summary>
    public ulong IdAa64Pfr1 => Field(CpuFeatures.Bti, 0, 1) | Field(CpuFeatures.Ssbs, 4, 2)
        | (Has(CpuFeatures.Mte3) ? 3UL << 8 : Field(CpuFeatures.Mte, 8, 2));

    /// <summary>ID_AA64ISAR0_EL1: AES/PMULL, SHA1, SHA2, CRC32 (always), Atomic, RDM, SHA3, SM3, SM4, DP, TS.</summary>
    public ulong IdAa64Isar0 =>
        (Has(CpuFeatures.Aes) ? 2UL << 4 : 0)
        | Field(CpuFeatures.Sha1, 8, 1)
        | (Has(CpuFeatures.Sha512) ? 2UL << 12 : Field(CpuFeatures.Sha256, 12, 1))
        | (1UL << 16)
        | Field(CpuFeatures.Lse, 20, 2)
        | Field(CpuFeatures.Rdm, 28, 1)
        | Field(CpuFeatures.Sha3, 32, 1)
        | Field(CpuFeatures.Sm3, 36, 1)
        | Field(CpuFeatures.Sm4, 40, 1)
        | Field(CpuFeatures.DotProd, 44, 1)
        | (Has(CpuFeatures.FlagM2) ? 2UL << 52 : Field(CpuFeatures.FlagM, 52, 1));

    /// <summary>
    /// ID_AA64ISAR1_EL1: DPB, APA/API and GPA/GPI (1: FEAT_PAuth, QARMA5 in APA/GPA or the IMPDEF algorithm in
    /// API/GPI), JSCVT, FCMA, LRCPC, FRINTTS, SB.
    /// </summary>
    public ulong IdAa64Isar1 =>
        (Has(CpuFeatures.Dpb2) ? 2UL : Field(CpuFeatures.Dpb, 0, 1))
        | (PacAlgorithm == PacAlgorithm.Qarma5 ? Field(CpuFeatures.Pauth, 4, 1) | Field(CpuFeatures.Pauth, 24, 1)
            : Field(CpuFeatures.Pauth, 8, 1) | Field(CpuFeatures.Pauth, 28, 1))
        | Field(CpuFeatures.Jscvt, 12, 1)
        | Field(CpuFeatures.Fcma, 16, 1)
        | (Has(CpuFeatures.Lrcpc2) ? 2UL << 20 : Field(CpuFeatures.Lrcpc, 20, 1))
        | Field(CpuFeatures.FrintTs, 32, 1)
        | Field(CpuFeatures.Sb, 36, 1);

    /// <summary>ID_AA64MMFR0_EL1: 40-bit PA, 16-bit ASIDs, little-endian only, 4K/16K/64K granules.</summary>
    public ulong IdAa64Mmfr0 => 0x0000_0000_0010_0022;

    /// <summary>
    /// ID_AA64MMFR1_EL1: PAN, ECBHB (with <see cref="CpuFeatures.NoSpeculation"/>: no branch history is kept, so none
    /// can steer a later exception level's speculation; Linux then reports Spectre-BHB mitigated by the hardware).
    /// </summary>
    public ulong IdAa64Mmfr1 => Field(CpuFeatures.Pan, 20, 1) | Field(CpuFeatures.NoSpeculation, 60, 1);

    /// <summary>ID_AA64MMFR2_EL1: CnP, UAO, TTL, E0PD.</summary>
    public ulong IdAa64Mmfr2 =>
        Field(CpuFeatures.Cnp, 0, 1) | Field(CpuFeatures.Uao, 4, 1) | Field(CpuFeatures.Ttl, 48, 1) | Field(CpuFeatures.E0pd, 60, 1);

    /// <summary>ID_AA64DFR0_EL1: debug v8, 2 breakpoints, 2 watchpoints, 1 context-aware breakpoint, no PMU.</summary>
    public ulong IdAa64Dfr0 => 0x0000_0000_0010_1006;

    private ulong Field(CpuFeatures f, int lsb, ulong value) => Has(f) ? value << lsb : 0;

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>The pointer authentication algorithm of a <see cref="CpuModel"/> with <see cref="CpuFeatures.Pauth"/>.</summary>
public enum PacAlgorithm
{
    /// <summary>QARMA5, the Arm ARM's ComputePAC (ID_AA64ISAR1_EL1.APA = GPA = 1).</summary>
    Qarma5,

    /// <summary>SoftKvm's IMPLEMENTATION DEFINED algorithm, much cheaper (ID_AA64ISAR1_EL1.API = GPI = 1).</summary>
    Impdef,
}

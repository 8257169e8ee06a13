namespace SoftKvm.Arm64.Kvm;

/// <summary>PSCI 1.0 (Arm DEN 0022) and SMCCC function ids and return codes.</summary>
internal static class Psci
{
    public const uint Version = 0x8400_0000;
    public const uint CpuSuspend32 = 0x8400_0001;
    public const uint CpuSuspend64 = 0xC400_0001;
    public const uint CpuOff = 0x8400_0002;
    public const uint CpuOn32 = 0x8400_0003;
    public const uint CpuOn64 = 0xC400_0003;
    public const uint AffinityInfo32 = 0x8400_0004;
    public const uint AffinityInfo64 = 0xC400_0004;
    public const uint MigrateInfoType = 0x8400_0006;
    public const uint SystemOff = 0x8400_0008;
    public const uint SystemReset = 0x8400_0009;
    public const uint Features = 0x8400_000A;
    public const uint SmcccVersion = 0x8000_0000;
    public const uint SmcccArchFeatures = 0x8000_0001;

    /// <summary>PSCI 1.0 in PSCI_VERSION format (major 1, minor 0).</summary>
    public const ulong Version10 = 0x1_0000;

    /// <summary>SMCCC 1.1.</summary>
    public const ulong Smccc11 = 0x1_0001;

    public const long Success = 0;
    public const long NotSupported = -1;
    public const long InvalidParameters = -2;
    public const long AlreadyOn = -4;

    public const ulong AffinityOn = 0;
    public const ulong AffinityOff = 1;
    public const ulong AffinityOnPending = 2;

    /// <summary>MIGRATE_INFO_TYPE: no Trusted OS, migration not required.</summary>
    public const ulong MigrateNotRequired = 2;

    /// <summary>Whether PSCI_FEATURES reports <paramref name="fid"/> as implemented.</summary>
    public static bool IsImplemented(uint fid) => fid is Version or CpuSuspend32 or CpuSuspend64 or CpuOff or CpuOn32 or CpuOn64
        or AffinityInfo32 or AffinityInfo64 or MigrateInfoType or SystemOff or SystemReset or Features or SmcccVersion;
}

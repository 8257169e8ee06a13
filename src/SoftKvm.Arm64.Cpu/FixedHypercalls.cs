namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// What the hypervisor gives the CPU model for native code to answer an HVC #0 itself (issue 19,
/// <see cref="ICpuHost.TryGetFixedHypercalls"/>): up to three SMCCC function IDs (W0) whose answer (X0) never changes
/// while the vCPU keeps its configuration (PSCI_VERSION, SMCCC_VERSION, MIGRATE_INFO_TYPE), and the two statistics
/// such a call counts (<c>exits</c> and <c>hvc_exit_stat</c>, as KVM counts an HVC it answers). Unused entries have
/// <see cref="NoFunction"/> as their ID. The pointers are to memory that never moves.
/// </summary>
public readonly unsafe struct FixedHypercalls(long* exits, long* hvcExitStat, ReadOnlySpan<(uint Function, ulong Answer)> calls)
{
    /// <summary>The ID of an unused entry (no 32-bit function ID equals it).</summary>
    public const ulong NoFunction = ulong.MaxValue;

    /// <summary>How many entries there are.</summary>
    public const int Capacity = 3;

    /// <summary>The vCPU's <c>exits</c> statistic.</summary>
    public long* Exits { get; } = exits;

    /// <summary>The vCPU's <c>hvc_exit_stat</c> statistic.</summary>
    public long* HvcExitStat { get; } = hvcExitStat;

    private readonly (ulong, ulong) _0 = calls.Length > 0 ? (calls[0].Function, calls[0].Answer) : (NoFunction, 0);
    private readonly (ulong, ulong) _1 = calls.Length > 1 ? (calls[1].Function, calls[1].Answer) : (NoFunction, 0);
    private readonly (ulong, ulong) _2 = calls.Length > 2 ? (calls[2].Function, calls[2].Answer) : (NoFunction, 0);

    /// <summary>Entry <paramref name="i"/> (0 to <see cref="Capacity"/> - 1): the function ID (zero-extended) and X0's answer.</summary>
    public (ulong Function, ulong Answer) this[int i] => i switch
    {
        0 => _0,
        1 => _1,
        2 => _2,
        _ => throw new ArgumentOutOfRangeException(nameof(i)),
    };
}

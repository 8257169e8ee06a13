namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// How often the model left its fast paths, for a profile (<c>softkvm run --profile</c>): each counter
/// is bumped only on a slow path, so the hot paths pay nothing. Hit rates follow from
/// <see cref="Arm64Cpu.Retired"/>: every instruction makes one fetch and one decode-cache lookup.
/// </summary>
internal struct CpuProfileCounters
{
    /// <summary>Instruction fetches that missed the execute TLB (page walk + slot lookup).</summary>
    public long FetchTlbMisses;

    /// <summary>Fetched words not found in the decode cache (decoded through the table).</summary>
    public long DecodeCacheMisses;

    /// <summary>Loads that left the read TLB: a miss, a page-crossing access, MMIO or a fault.</summary>
    public long ReadSlowPaths;

    /// <summary>Stores that left the write TLB: a miss, a page-crossing access, MMIO, a fault or dirty logging.</summary>
    public long WriteSlowPaths;

    /// <summary>Whole-TLB flushes (TLBI, TTBR/SCTLR changes, memory slot changes).</summary>
    public long TlbFlushes;
}

internal sealed partial class Arm64Cpu
{
    /// <summary>The slow-path counters of this PE.</summary>
    public CpuProfileCounters Counters;
}

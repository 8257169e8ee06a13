namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// How often the model left its fast paths, for a profile (<c>softkvm run --profile</c>): each counter
/// is bumped only on a slow path, so the hot paths pay nothing. Hit rates follow from
/// <see cref="Arm64Cpu.Retired"/>: every interpreted instruction makes one fetch and one decode-cache
/// lookup, and every entry into a translated block one fetch for the whole block.
/// </summary>
public struct CpuProfileCounters
{
    /// <summary>Instruction fetches that missed the execute TLB (page walk + slot lookup).</summary>
    public long FetchTlbMisses;

    /// <summary>Fetched words not found in the decode cache (decoded through the table).</summary>
    public long DecodeCacheMisses;

    /// <summary>Loads that left the read TLB: a miss, a page-crossing access, MMIO or a fault.</summary>
    public long ReadSlowPaths;

    /// <summary>Stores that left the write TLB: a miss, a page-crossing access, MMIO, a fault or dirty logging.</summary>
    public long WriteSlowPaths;

    /// <summary>Hot branch targets compiled to translated blocks.</summary>
    public long BlocksTranslated;

    /// <summary>Optimized compilations of translated blocks (of blocks whose quick code ran long enough, or of new blocks when every block is optimized at once).</summary>
    public long BlocksOptimized;

    /// <summary>Instructions in the blocks translated (their total size).</summary>
    public long TranslatedBlockInstructions;

    /// <summary>Time spent translating blocks (building and compiling their host methods, quick and optimized), in microseconds.</summary>
    public long TranslationMicroseconds;

    /// <summary>Blocks whose host method the runtime refused (a translator bug; they stay interpreted or quick).</summary>
    public long TranslationFailures;

    /// <summary>Translated blocks dropped because the guest changed their code.</summary>
    public long BlocksInvalidated;

    /// <summary>Entries into translated blocks from the run loop (each one fetch and one block lookup for the whole block).</summary>
    public long TranslatedBlocksRun;

    /// <summary>Optimized blocks entered straight from the end of another, without the run loop.</summary>
    public long BlocksChained;

    /// <summary>Instructions retired inside translated blocks (fetched and decoded once per block).</summary>
    public long TranslatedInstructions;

    /// <summary>The part of <see cref="TranslatedInstructions"/> retired in optimized blocks.</summary>
    public long OptimizedInstructions;

    /// <summary>Whole-TLB flushes (TLBI, TTBR/SCTLR changes, memory slot changes).</summary>
    public long TlbFlushes;
}

public sealed partial class Arm64Cpu
{
    /// <summary>The slow-path counters of this PE.</summary>
    public CpuProfileCounters Counters;
}

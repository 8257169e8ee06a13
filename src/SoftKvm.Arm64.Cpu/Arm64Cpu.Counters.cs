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

    /// <summary>Blocks translated to native code (each at its first execution).</summary>
    public long BlocksTranslated;

    /// <summary>Instructions in the blocks translated (their total size).</summary>
    public long TranslatedBlockInstructions;

    /// <summary>Time spent translating blocks (discovery, IR, passes, x86-64 code, publishing), in microseconds.</summary>
    public long TranslationMicroseconds;

    /// <summary>Translations that found the code cache full (a flush follows; the instruction is interpreted meanwhile).</summary>
    public long TranslationFailures;

    /// <summary>Translated blocks dropped because the guest changed their code.</summary>
    public long BlocksInvalidated;

    /// <summary>Entries into native code from the run loop (each one fetch and one block lookup; the code then runs on through linked exits and the jump cache).</summary>
    public long TranslatedBlocksRun;

    /// <summary>Exits linked to the block of their target (after which they go straight on, without the run loop).</summary>
    public long BlocksChained;

    /// <summary>Instructions retired in native code.</summary>
    public long TranslatedInstructions;

    /// <summary>Whole-TLB flushes (TLBI, TTBR/SCTLR changes, memory slot changes).</summary>
    public long TlbFlushes;
}

public sealed partial class Arm64Cpu
{
    /// <summary>The slow-path counters of this PE.</summary>
    public CpuProfileCounters Counters;
}

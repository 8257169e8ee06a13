using System.Reflection;
using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Translation;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Block translation: the interpreter counts how often each branch target is entered, and a target
/// entered <see cref="TranslationThreshold"/> times becomes a <see cref="TranslatedBlock"/> that runs
/// its straight-line instructions without a fetch, decode-cache lookup or dispatch each, first in its
/// quick form and, once it has retired <see cref="OptimizationThreshold"/> instructions, optimized. Blocks are
/// used only where they cannot be told apart from the interpreter: never while a hardware breakpoint
/// is armed or while something needs attention before each instruction (software step, PSTATE.IL, a
/// pending interrupt), and only when the instruction budget left covers <see cref="BlockCompiler.MaxInstructions"/>.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private const int HeatBits = 12;

    /// <summary>Whether new vCPUs translate hot blocks (SOFTKVM_TRANSLATE=0 turns it off, for comparisons).</summary>
    public static readonly bool DefaultTranslation = Environment.GetEnvironmentVariable("SOFTKVM_TRANSLATE") != "0";

    private readonly HeatSlot[] _heat = new HeatSlot[1 << HeatBits];

    /// <summary>Whether this PE translates hot blocks.</summary>
    public bool TranslationEnabled { get; set; } = DefaultTranslation;

    /// <summary>
    /// Whether hot blocks are translated by the background translator (the default) or at once on this
    /// thread (deterministic, for tests).
    /// </summary>
    public bool TranslateInBackground { get; set; } = true;

    /// <summary>How many entries make a branch target hot enough to translate (quickly).</summary>
    public int TranslationThreshold { get; set; } = EnvironmentCount("SOFTKVM_TRANSLATE_THRESHOLD", 1000);

    /// <summary>
    /// How many instructions retired in a block's quick compilation make it hot enough to optimize (work,
    /// not entries: a loop inside a block may run long from one entry); 0 optimizes every block at once
    /// (no quick compilation), <see cref="int.MaxValue"/> never.
    /// </summary>
    public int OptimizationThreshold { get; set; } = EnvironmentCount("SOFTKVM_OPTIMIZE_THRESHOLD", 500_000);

    private static int EnvironmentCount(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int n) && n >= 0 ? n : fallback;

    /// <summary>The fields the generated code reads or writes.</summary>
    internal static FieldInfo LastWasLoadExclusiveField { get; } = PrivateField(nameof(_lastWasLoadExclusive));

    /// <inheritdoc cref="LastWasLoadExclusiveField"/>
    internal static FieldInfo TlbEpochField { get; } = PrivateField(nameof(_tlbEpoch));

    /// <inheritdoc cref="LastWasLoadExclusiveField"/>
    internal static FieldInfo SharedField { get; } = PrivateField(nameof(_shared));

    private static FieldInfo PrivateField(string name) =>
        typeof(Arm64Cpu).GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)!;

    /// <summary>
    /// The current block that starts at <paramref name="host"/> (guest address <paramref name="pc"/>),
    /// translating it when this entry makes it hot; null to interpret.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TranslatedBlock? FindBlock(uint* host, ulong pc)
    {
        TranslatedBlock? block = _shared.FindEntry(host);
        if (block is not null)
        {
            return block;
        }

        ref HeatSlot heat = ref _heat[(int)((nuint)host >> 2) & ((1 << HeatBits) - 1)];
        if (heat.Host != host)
        {
            heat.Host = host;
            heat.Count = 0;
        }

        if (++heat.Count < TranslationThreshold)
        {
            return null;
        }

        // If the block does not show up (still being translated, or another entry took its cache slot),
        // this asks again after the next threshold; the translator ignores a request it has queued already.
        heat.Count = 0;
        return TranslateBlock(host, pc);
    }

    /// <summary>The optimized block entered at <paramref name="host"/>, for a block to chain to; null if there is none.</summary>
    internal TranslatedBlock? FindChainTarget(uint* host) => _shared.FindEntry(host) is { Optimized: true } block ? block : null;

    /// <summary>
    /// Runs <paramref name="next"/> from the end of another optimized block (<see cref="BlockCompiler"/>),
    /// unless the chain is <see cref="BlockCompiler.MaxChainDepth"/> deep already
    /// (<see cref="BlockCompiler.NotChained"/>).
    /// </summary>
    internal int RunChained(TranslatedBlock next, ulong pc, ref int requests, long limit)
    {
        if (_chainDepth >= BlockCompiler.MaxChainDepth)
        {
            return BlockCompiler.NotChained;
        }

        _chainDepth++;
        Counters.BlocksChained++;
        int result = next.Run(this, pc, ref requests, limit);
        _chainDepth--;
        return result;
    }

    /// <summary>How many chained blocks are running below the run loop (reset by every run).</summary>
    private int _chainDepth;

    /// <summary>Drops the entry at <paramref name="host"/>: the guest changed the code of its block.</summary>
    private void DropStaleBlock(uint* host)
    {
        _shared.Drop(host);
        Counters.BlocksInvalidated++;
    }

    private TranslatedBlock? TranslateBlock(uint* host, ulong pc)
    {
        int[] indices = BlockCompiler.Discover(host, pc);
        var words = new uint[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            words[k] = host[indices[k]];
        }

        var source = new BlockSource(host, pc, indices, words);
        bool optimize = OptimizationThreshold == 0;
        if (!TranslateInBackground)
        {
            return BlockTranslator.Translate(this, _shared, source, optimize);
        }

        BlockTranslator.Enqueue(this, _shared, source, optimize);
        return null;
    }

    /// <summary>
    /// How many instructions a run of <paramref name="block"/> may retire before it leaves at a backward
    /// branch: what the budget leaves room for, and for quick code no more than it needs to become hot
    /// (or, once its optimization is asked for, a slice after which the run loop looks again), so that
    /// a long loop entered once moves to its optimized code instead of finishing in the quick one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long BlockLimit(TranslatedBlock block, long budget)
    {
        long limit = budget - BlockCompiler.MaxInstructions;
        if (!block.Optimized)
        {
            long toHot = OptimizationThreshold - block.Source.Heat;
            limit = Math.Min(limit, toHot > 0 ? toHot : QuickSlice);
        }

        return limit;
    }

    /// <summary>Instructions a quick block waiting for its optimized code runs between two looks for it.</summary>
    private const long QuickSlice = 65536;

    /// <summary>Counts <paramref name="retired"/> instructions run by the quick code of <paramref name="source"/>, and has it optimized when that makes it hot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void HeatQuickBlock(BlockSource source, int retired)
    {
        if ((source.Heat += retired) >= OptimizationThreshold && !source.OptimizationRequested)
        {
            source.OptimizationRequested = true;
            OptimizeBlock(source);
        }
    }

    private void OptimizeBlock(BlockSource source)
    {
        if (!TranslateInBackground)
        {
            BlockTranslator.Translate(this, _shared, source, optimize: true);
            return;
        }

        BlockTranslator.EnqueueOptimization(this, _shared, source);
    }

    private struct HeatSlot
    {
        public uint* Host;
        public int Count;
    }
}

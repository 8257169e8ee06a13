using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.X86.Cpu.Translation;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Translated blocks in the run loop. Where control arrives by a taken branch (or after a block), the
/// run loop looks the RIP up in a direct-mapped table keyed by RIP, host address of the code and code
/// size; an entry reached <see cref="TranslationThreshold"/> times is queued for compilation
/// (<see cref="BlockTranslator"/>) and runs as a block once compiled, whenever the state lets a block
/// run exactly as the interpreter would (<see cref="BlocksAllowed"/>).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Whether new vCPUs translate hot blocks (SOFTKVM_TRANSLATE=0 turns it off, for comparisons).</summary>
    public static readonly bool DefaultTranslation = Environment.GetEnvironmentVariable("SOFTKVM_TRANSLATE") != "0";

    private const int BlockSlots = 4096;
    private const int MaxStale = 4;

    /// <summary>Runs in a row that retired nothing after which a block is entered only every 64th arrival (<see cref="RunBlock"/>).</summary>
    private const int EmptyRunLimit = 16;

    private struct BlockSlot
    {
        public ulong Rip;
        public nint Host;
        public int Bitness;
        public int Heat;
        public int Stale;
        public int Count;

        /// <summary>Runs in a row that left at the first instruction, up to <see cref="EmptyRunLimit"/>.</summary>
        public int Empty;

        /// <summary>Arrivals that skipped the block after <see cref="Empty"/> reached its limit.</summary>
        public int Skipped;

        /// <summary>The entry number of this place in <see cref="Block"/> (<see cref="TranslatedBlock.Entries"/>).</summary>
        public int Entry;
        public BlockCode? Code;
        public TranslatedBlock? Block;
    }

    private BlockSlot[]? _blocks;
    private readonly ConcurrentQueue<(BlockRequest Request, TranslatedBlock? Block)> _completed = new();
    private int _completedCount;
    private bool _lookUp = true;

    /// <summary>The look-up <see cref="_lookUp"/> asks for runs a block already there but earns the place no heat: the place after
    /// a device access or port IO the interpreter completed (<see cref="TryFastPortIo"/>), which is not where control arrived by a
    /// branch; a loop's head earns it (else each place after an access in a loop reached the threshold with its head).</summary>
    private bool _lookUpCold;
    private ulong _resumeRip = ulong.MaxValue;
    private long _translationTicks;

    /// <summary>Whether this vCPU runs hot code as translated blocks (default <see cref="DefaultTranslation"/>).</summary>
    public bool Translation { get; set; } = DefaultTranslation;

    /// <summary>The default <see cref="TranslationThreshold"/>. A block costs the .NET JIT 4-20 ms of CPU (a 64-instruction
    /// block of the bzImage's decompressor about 16 ms), as much as interpreting a few hundred thousand instructions: only
    /// places entered often pay that back. On the x86 Linux boot 2,000 took 129 s of CPU against 190-205 s with 50
    /// (docs/performance.md, issue 20).</summary>
    internal const int DefaultTranslationThreshold = 2000;

    /// <summary>Entries into a place before it is compiled (SOFTKVM_TRANSLATE_THRESHOLD, default <see cref="DefaultTranslationThreshold"/>;
    /// 0 compiles at the first look-up).</summary>
    public int TranslationThreshold { get; set; } =
        int.TryParse(Environment.GetEnvironmentVariable("SOFTKVM_TRANSLATE_THRESHOLD"), out int n) && n >= 0 ? n : DefaultTranslationThreshold;

    /// <summary>When set, a hot block is compiled on the vCPU thread before it goes on (tests: no timing).</summary>
    public bool TranslateSynchronously { get; set; }

    /// <summary>Blocks compiled and installed.</summary>
    public long BlocksTranslated { get; private set; }

    /// <summary>Blocks this vCPU took from the process-wide cache, compiled for another vCPU (of any VM) at the same host address.</summary>
    public long BlocksShared { get; private set; }

    /// <summary>Instructions retired inside translated blocks.</summary>
    public long TranslatedInstructions { get; private set; }

    /// <summary>Runs of translated blocks.</summary>
    public long BlockEntries { get; private set; }

    /// <summary>Blocks dropped because the code they were compiled from changed.</summary>
    public long StaleBlocks { get; private set; }

    /// <summary>Blocks the runtime refused to compile (the code stays interpreted).</summary>
    public long TranslationFailures { get; private set; }

    /// <summary>The reason of the last translation failure.</summary>
    public string? LastTranslationFailure { get; private set; }

    /// <summary>Time spent compiling this vCPU's blocks (on the translator thread).</summary>
    public TimeSpan TranslationTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _translationTicks));

    internal void RecordTranslationFailure(string message)
    {
        LastTranslationFailure = message;
        TranslationFailures++;
    }

    internal void AddTranslationTime(long ticks) => Interlocked.Add(ref _translationTicks, ticks);

    internal void CompletedBlock(BlockRequest request, TranslatedBlock? block)
    {
        _completed.Enqueue((request, block));
        Interlocked.Increment(ref _completedCount);
    }

    /// <summary>
    /// Whether a block may run now: code of 32 or 64 bits; in 32-bit mode flat CS, DS, ES and SS (base 0,
    /// 4 GiB limit, DS/ES/SS writable expand-up data, a 32-bit stack); no TF or RF, no armed debug
    /// breakpoint, no interrupt shadow. Everything a block does not check per instruction holds then.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool BlocksAllowed()
    {
        if ((_regs.Rflags & (Rflags.TF | Rflags.RF)) != 0 || (_regs.Dr7 & 0xFF) != 0 || _shadow != InterruptShadow.None)
        {
            return false;
        }

        if (_bitness == 64)
        {
            return true;
        }

        if (_bitness != 32)
        {
            return false;
        }

        ref var cs = ref _regs.Seg[SegmentIndex.Cs];
        return cs.Base == 0 && cs.Limit == 0xFFFFFFFF
            && FlatData(ref _regs.Seg[SegmentIndex.Ds]) && FlatData(ref _regs.Seg[SegmentIndex.Es])
            && FlatData(ref _regs.Seg[SegmentIndex.Ss]) && _regs.Seg[SegmentIndex.Ss].IsBig;
    }

    private static bool FlatData(ref SegmentRegister s)
    {
        const uint mask = SegmentRegister.Present | SegmentRegister.Unusable | 0x1E;
        const uint want = SegmentRegister.Present | 0x12; // S=1, data, expand-up, writable
        return s.Base == 0 && s.Limit == 0xFFFFFFFF && (s.Attributes & mask) == want;
    }

    /// <summary>
    /// At a place control arrived at by a branch: runs the compiled block there if there is one and it may
    /// run; counts the entry otherwise. Returns the instructions the block retired (0: interpret).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private long RunBlock(long remaining)
    {
        _lookUp = false;
        bool cold = _lookUpCold;
        _lookUpCold = false;
        _lookUpOutcome = LookUpOutcome.NotAllowed;
        if (Volatile.Read(ref _completedCount) != 0)
        {
            InstallCompleted();
        }

        if (!BlocksAllowed())
        {
            return 0;
        }

        ulong rip = _regs.Rip;
        if (_bitness == 64 && !IsCanonical(rip))
        {
            return 0;
        }

        // Linear = RIP (flat CS). A fetch fault or exit found here is the interpreter's to take, when it fetches.
        nint host = (nint)TranslateFetch(rip);
        if (host == 0)
        {
            _faulted = false;
            _exitPending = false;
            return 0;
        }

        if (_native && _bitness == 64)
        {
            long ran = RunNative(rip, host, remaining);
            if (ran == 0 && _interpretedByCode is not null)
            {
                NoteNativeDecline(rip, remaining);
            }

            return ran;
        }

        _lookUpOutcome = LookUpOutcome.NoIlBlock;

        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            return 0; // compiled to native code ahead of time (NativeAOT): no .NET IL blocks, the interpreter runs
        }

        _blocks ??= new BlockSlot[BlockSlots];
        ref var slot = ref SlotOf(rip);
        if (slot.Rip != rip || slot.Host != host || slot.Bitness != _bitness)
        {
            if (cold)
            {
                return 0;
            }

            slot = new BlockSlot { Rip = rip, Host = host, Bitness = _bitness };
        }

        if (slot.Code is null)
        {
            if (cold)
            {
                return 0;
            }

            // At the threshold: the block from the process-wide cache (another vCPU's), or compile it; while it
            // compiles (here or for another vCPU), look in the cache again every 64 entries.
            int heat = slot.Heat++;
            if (heat < TranslationThreshold || slot.Stale >= MaxStale || (heat != TranslationThreshold && (heat & 63) != 0))
            {
                return 0;
            }

            var key = new BlockKey(host, rip, _bitness);
            if (!TranslateSynchronously && BlockTranslator.TryGet(key, out var shared) && shared.EntryOf(rip) >= 0)
            {
                Install(ref slot, shared, shared.EntryOf(rip));
                BlocksShared++;
            }
            else if (heat == TranslationThreshold)
            {
                Request(key);
            }

            if (slot.Code is null)
            {
                return 0; // compiling in the background
            }
        }

        if (slot.Count > remaining)
        {
            return 0;
        }

        if (slot.Empty >= EmptyRunLimit && (++slot.Skipped & 63) != 0)
        {
            // The block keeps leaving at its first instruction (a device access, which a block does not make): the
            // interpreter takes it at once, and the block is tried again every 64th arrival.
            return 0;
        }

        int result = slot.Code(this, remaining, slot.Entry);
        if (result == BlockCompiler.Stale)
        {
            StaleBlocks++;
            BlockTranslator.Forget(new BlockKey(host, rip, _bitness), slot.Block!);
            slot.Code = null;
            slot.Block = null;
            slot.Heat = 0;
            slot.Stale++;
            return 0;
        }

        long retired = result >> 1;
        slot.Empty = retired != 0 ? 0 : Math.Min(slot.Empty + 1, EmptyRunLimit);
        BlockEntries++;
        TranslatedInstructions += retired;
        InstructionsRetired += retired;
        _ilInstructionsByMode[ModeIndex] += retired;
        _lookUp = (result & 1) == 0;
        _lookUpCold = false; // (a device access inside the block asked for a cold look-up: the block's end decides)
        return retired;
    }

    private ref BlockSlot SlotOf(ulong rip) => ref _blocks![(int)((rip ^ (rip >> 12)) & (BlockSlots - 1))];

    /// <summary>Drops every translated block of this vCPU (they are compiled again when hot).</summary>
    public void FlushBlocks()
    {
        if (_blocks is not null)
        {
            Array.Clear(_blocks);
        }

        if (_nativeSlots is not null)
        {
            Array.Clear(_nativeSlots);
            _nativeBlocks.Clear();
            ForgetNativeLinks();
            _jumpCache?.Clear();
        }
    }

    /// <summary>
    /// Asks for the block entered at <paramref name="key"/>, hot now. Its shape is decided here (<see cref="BlockCompiler.Shape"/>):
    /// the other places it may be entered at (the same loop's head, the places after its exits) wait for it instead of
    /// reaching the threshold themselves and compiling their own copies; the block is installed at all of them. A place
    /// where nothing compiles (its first instruction ends blocks) is not asked for again.
    /// </summary>
    private void Request(BlockKey key)
    {
        var page = new byte[0x1000];
        int entry = (int)(key.Rip & 0xFFF);
        Marshal.Copy(key.Host - entry, page, 0, page.Length);
        ulong pageRip = key.Rip - (ulong)entry;
        var shape = BlockCompiler.Shape(page, entry, pageRip, key.Bitness);
        if (shape is null)
        {
            SlotOf(key.Rip).Stale = MaxStale;
            return;
        }

        foreach (int other in shape.Entries)
        {
            ulong rip = pageRip + (ulong)other;
            nint host = key.Host + (other - entry);
            ref var slot = ref SlotOf(rip);
            if (slot.Rip != rip || slot.Host != host || slot.Bitness != key.Bitness)
            {
                if (slot.Code is not null)
                {
                    continue; // another place's block holds the slot: that place keeps it
                }

                slot = new BlockSlot { Rip = rip, Host = host, Bitness = key.Bitness };
            }

            if (slot.Code is null && other != entry)
            {
                slot.Heat = Math.Max(slot.Heat, TranslationThreshold + 1); // (waiting: looks in the cache every 64 arrivals)
            }
        }

        var request = new BlockRequest(this, key, page, entry, shape);
        if (TranslateSynchronously)
        {
            CompletedBlock(request, BlockTranslator.Compile(request));
            InstallCompleted();
        }
        else
        {
            BlockTranslator.Enqueue(request);
        }
    }

    private static void Install(ref BlockSlot slot, TranslatedBlock block, int entry)
    {
        slot.Block = block;
        slot.Code = block.Code;
        slot.Count = block.InstructionCount;
        slot.Entry = entry;
    }

    /// <summary>Installs the blocks compiled for this vCPU at every place each may be entered at that still holds that place
    /// and has no block.</summary>
    private void InstallCompleted()
    {
        while (_completed.TryDequeue(out var done))
        {
            Interlocked.Decrement(ref _completedCount);
            var (request, block) = done;
            if (block is null)
            {
                continue;
            }

            var key = request.Key;
            bool installed = false;
            for (int k = 0; k < block.Entries.Length; k++)
            {
                ulong rip = block.Entries[k];
                nint host = key.Host + (nint)(rip - key.Rip);
                ref var slot = ref SlotOf(rip);
                if (slot.Rip == rip && slot.Host == host && slot.Bitness == key.Bitness && (k == 0 || slot.Code is null))
                {
                    Install(ref slot, block, k);
                    installed = true;
                }
            }

            if (installed)
            {
                BlocksTranslated++;
            }
        }
    }

    /// <summary>Called after every interpreted instruction: a taken branch, an event or an exception makes the next RIP a
    /// place to look up (not a REP string instruction going round at the same RIP: it never starts a block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteFlow(ulong before)
    {
        ulong rip = _regs.Rip;
        if (rip != before + (ulong)_insn.Length && rip != before)
        {
            _lookUp = true;
            _lookUpCold = false;
        }
    }
}

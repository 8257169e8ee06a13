using System.Diagnostics;
using SoftKvm.X86.Cpu.Translation.Native;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Native blocks in the run loop (64-bit code): where the IL tier would look a place up, a vCPU with
/// <see cref="Native"/> runs the x86-64 code translated from it at its first execution
/// (<see cref="X86NativeTranslator"/>), in a direct-mapped table keyed by RIP, host address of the code and
/// privilege. The run loop's conditions for blocks hold (<see cref="BlocksAllowed"/>); a block returns the
/// instructions it retired, twice, plus 1 when it left before an instruction the interpreter must run.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Whether new vCPUs run 64-bit code as native blocks: on an x86-64 host with BMI2, unless SOFTKVM_X86_NATIVE=0
    /// (then 64-bit code runs as IL blocks, as 16- and 32-bit code does).</summary>
    public static readonly bool DefaultNative = Environment.GetEnvironmentVariable("SOFTKVM_X86_NATIVE") != "0" && X86NativeTranslator.HostSupported;

    private const int NativeSlots = 1 << 15;
    private const int MaxNativeStale = 4;

    /// <summary>The most instructions one call of native code runs.</summary>
    private const long MaxNativeRun = 1 << 20;

    private struct NativeSlot
    {
        public ulong Rip;
        public nint Host;
        public int Key;   // 1 + user, 0: empty
        public int Generation;
        public nint Code; // 0: nothing there runs natively
        public nint Chained;
        public int Count;
        public int Stale;
        public bool Dirty;
        public int Declines; // arrivals since the translator declined the place (X86Cpu.NativeDeclined.cs)
    }

    private NativeSlot[]? _nativeSlots;

    /// <summary>Every block of the code memory's current generation, behind the direct-mapped slots (a slot's
    /// collision must not cost a translation).</summary>
    private readonly Dictionary<(ulong Rip, nint Host, int Key), (nint Code, nint Chained, int Count)> _nativeBlocks = [];
    private X86NativeJumpCache? _jumpCache;

    /// <summary>The direct exits into each block's place (linked to its chained entry while it has one, else waiting for it):
    /// the rel32 field of each exit's JMP and where it goes unlinked (<see cref="X86NativeTranslator.Links"/>).</summary>
    private readonly Dictionary<(ulong Rip, nint Host, int Key), List<(nint Field, nint Slow)>> _nativeLinks = [];

    /// <summary>The direct exits into another page, by target (RIP, key): linked to the latest block translated there
    /// (<see cref="_nativeLatest"/>), with that block's addend, which their fetch TLB check compares.</summary>
    private readonly Dictionary<(ulong Rip, int Key), List<(nint Field, nint Slow, nint Addend)>> _nativeFarLinks = [];

    /// <summary>The latest block translated at each (RIP, key): its host address and chained entry.</summary>
    private readonly Dictionary<(ulong Rip, int Key), (nint Host, nint Chained)> _nativeLatest = [];
    private int _nativeBlocksGeneration;
    private X86NativeTranslator? _nativeTranslator;
    private X86NativeCodeMemory? _nativeCode;
    private readonly long[] _nativeTranslationHistogram = new long[24];

    /// <summary>Whether this vCPU runs 64-bit code as native x86-64 blocks instead of IL blocks (default <see cref="DefaultNative"/>;
    /// needs <see cref="Translation"/> on and a host with BMI2).</summary>
    public bool Native
    {
        get => _native;
        set => _native = value && X86NativeTranslator.HostSupported;
    }

    private bool _native = DefaultNative;

    /// <summary>Native translations by the time each took: entry 0 counts those below 2 µs, entry k those of [2^k, 2^(k+1)) µs.</summary>
    public ReadOnlySpan<long> NativeTranslationHistogram => _nativeTranslationHistogram;

    /// <summary>
    /// At a place control arrived at (64-bit code, blocks allowed, <paramref name="host"/> its code): runs the native
    /// block there, translating it first if it is new. Returns the instructions retired (0: interpret).
    /// </summary>
    private long RunNative(ulong rip, nint host, long remaining)
    {
        // After this, whatever happens, the next instruction is a place to look up (the interpreter may run just one).
        _lookUp = true;
        _nativeSlots ??= new NativeSlot[NativeSlots];
        _nativeCode ??= new X86NativeCodeMemory();
        _jumpCache ??= new X86NativeJumpCache();
        bool user = _cpl == 3;
        int key = user ? 2 : 1;
        ref var slot = ref _nativeSlots[(int)((rip ^ (rip >> 12)) & (NativeSlots - 1))];
        if (slot.Rip != rip || slot.Host != host || slot.Key != key || slot.Dirty || (slot.Code != 0 && slot.Generation != _nativeCode.Generation))
        {
            int stale = slot.Rip == rip && slot.Host == host && slot.Key == key ? slot.Stale : 0;
            bool dirty = slot.Dirty && slot.Rip == rip && slot.Host == host && slot.Key == key;
            slot = new NativeSlot { Rip = rip, Host = host, Key = key, Stale = stale };
            if (_nativeBlocksGeneration != _nativeCode.Generation)
            {
                ForgetNativeBlocks();
            }

            if (!dirty && _nativeBlocks.TryGetValue((rip, host, key), out var known))
            {
                slot.Code = known.Code;
                slot.Chained = known.Chained;
                slot.Count = known.Count;
                slot.Generation = _nativeCode.Generation;
            }
            else if (stale < MaxNativeStale)
            {
                TranslateNative(ref slot, user);
                if (_nativeBlocksGeneration != _nativeCode.Generation)
                {
                    ForgetNativeBlocks(); // the code memory was emptied for this block
                }

                _nativeBlocks[(rip, host, key)] = (slot.Code, slot.Chained, slot.Count);
                if (slot.Code != 0)
                {
                    LinkNative(rip, host, key, slot.Chained);
                }
            }
        }

        if (slot.Code == 0)
        {
            RetryDeclinedLater(ref slot);
        }

        if (slot.Code == 0 || (slot.Count > remaining && ExactBudget))
        {
            return 0;
        }

        _jumpCache.Set(rip, host, slot.Chained, key);
        X86NativeFrame frame;
        long result;
        fixed (TlbEntry* tlb = _tlb)
        fixed (X86Registers* regs = &_regs)
        fixed (int* exitRequested = &_exitRequested)
        {
            int u = user ? 1 : 0;
            frame.ReadTlb = tlb + (((int)AccessKind.Read * 2) + u) * TlbSets;
            frame.WriteTlb = tlb + (((int)AccessKind.Write * 2) + u) * TlbSets;
            frame.FsBase = _regs.Seg[SegmentIndex.Fs].Base;
            frame.GsBase = _regs.Seg[SegmentIndex.Gs].Base;
            frame.Limit = Math.Min(remaining, MaxNativeRun) - X86NativeTranslator.MaxInstructions;
            frame.ExitRequested = exitRequested;
            frame.FetchTlb = tlb + (((int)AccessKind.Fetch * 2) + u) * TlbSets;
            frame.JumpCache = _jumpCache.Table;
            frame.Stale = 0;
            frame.ExitHelper = s_exitHelper;
            SetPublishedReads(&frame);
            if (t_native != this)
            {
                t_native = this;
            }

            // With the GC transition: the block may call the exit helper, managed code (X86Cpu.NativeExits.cs); it touches
            // no managed object but the pinned ones.
            result = ((delegate* unmanaged<X86NativeFrame*, X86Registers*, long>)slot.Code)(&frame, regs);
        }

        RethrowNativeFault();

        long retired = result >> 1;
        if (frame.Stale != 0)
        {
            // The block at RIP (this one, or one a chain went to) no longer has the bytes it was translated from.
            DropStaleNative(_regs.Rip, key);
        }

        if (retired > 0)
        {
            BlockEntries++;
            TranslatedInstructions += retired;
            InstructionsRetired += retired;
        }

        return retired;
    }

    /// <summary>Forgets every block of the code memory's previous generation (its blocks, the jump cache, the links).</summary>
    private void ForgetNativeBlocks()
    {
        _nativeBlocks.Clear();
        _jumpCache!.Clear();
        ForgetNativeLinks();
        _nativeBlocksGeneration = _nativeCode!.Generation;
    }

    private void ForgetNativeLinks()
    {
        _nativeLinks.Clear();
        _nativeFarLinks.Clear();
        _nativeLatest.Clear();
    }

    /// <summary>
    /// A block was translated at (<paramref name="rip"/>, <paramref name="host"/>, <paramref name="key"/>): its direct exits
    /// jump straight to the blocks already at their targets (into its own page with no further check: the page's mapping is
    /// the block's own; into another page while the fetch TLB maps it with the addend written beside the JMP), and the
    /// exits of earlier blocks to this place now jump to it.
    /// </summary>
    private void LinkNative(ulong rip, nint host, int key, nint chained)
    {
        foreach (var (target, field, slow, addend) in _nativeTranslator!.Links)
        {
            if (addend != 0)
            {
                if (!_nativeFarLinks.TryGetValue((target, key), out var far))
                {
                    _nativeFarLinks[(target, key)] = far = [];
                }

                far.Add((field, slow, addend));
                if (_nativeLatest.TryGetValue((target, key), out var latest))
                {
                    _nativeCode!.PatchQword(addend, latest.Host - (nint)target);
                    _nativeCode.Patch(field, latest.Chained);
                }

                continue;
            }

            var to = (target, host + (nint)(target - rip), key);
            if (!_nativeLinks.TryGetValue(to, out var sites))
            {
                _nativeLinks[to] = sites = [];
            }

            sites.Add((field, slow));
            if (_nativeBlocks.TryGetValue(to, out var known) && known.Code != 0)
            {
                _nativeCode!.Patch(field, known.Chained);
            }
        }

        if (_nativeLinks.TryGetValue((rip, host, key), out var incoming))
        {
            foreach (var (field, _) in incoming)
            {
                _nativeCode!.Patch(field, chained);
            }
        }

        _nativeLatest[(rip, key)] = (host, chained);
        if (_nativeFarLinks.TryGetValue((rip, key), out var farIncoming))
        {
            foreach (var (field, _, addend) in farIncoming)
            {
                _nativeCode!.PatchQword(addend, host - (nint)rip);
                _nativeCode.Patch(field, chained);
            }
        }
    }

    private void DropStaleNative(ulong rip, int key)
    {
        StaleBlocks++;
        _jumpCache!.Remove(rip);
        ref var slot = ref _nativeSlots![(int)((rip ^ (rip >> 12)) & (NativeSlots - 1))];
        if (slot.Rip == rip && slot.Key == key)
        {
            if (_nativeLinks.TryGetValue((rip, slot.Host, key), out var incoming))
            {
                foreach (var (field, unlinked) in incoming)
                {
                    _nativeCode!.Patch(field, unlinked); // back to the jump cache's way until it is translated again
                }
            }

            if (_nativeLatest.TryGetValue((rip, key), out var latest) && latest.Host == slot.Host)
            {
                _nativeLatest.Remove((rip, key));
                if (_nativeFarLinks.TryGetValue((rip, key), out var far))
                {
                    foreach (var (field, unlinked, _) in far)
                    {
                        _nativeCode!.Patch(field, unlinked);
                    }
                }
            }

            _nativeBlocks.Remove((rip, slot.Host, key));
            slot.Code = 0;
            slot.Stale++;
            slot.Dirty = true; // translated again at the next arrival, up to MaxNativeStale times
        }
    }

    private void TranslateNative(ref NativeSlot slot, bool user)
    {
        long start = Stopwatch.GetTimestamp();
        _nativeTranslator ??= new X86NativeTranslator();
        if (_nativeTranslator.Translate((byte*)slot.Host, slot.Rip, user, _nativeCode!, out nint entry, out nint chained, out int count, _nextCodePage ??= NextCodePage))
        {
            slot.Code = entry;
            slot.Chained = chained;
            slot.Count = count;
            slot.Generation = _nativeCode!.Generation;
            BlocksTranslated++;
        }
        else if (_nativeTranslator.LastFailure is string failure)
        {
            RecordTranslationFailure(failure);
        }

        long ticks = Stopwatch.GetTimestamp() - start;
        AddTranslationTime(ticks);
        double us = ticks * 1e6 / Stopwatch.Frequency;
        int bucket = us < 2 ? 0 : Math.Min(_nativeTranslationHistogram.Length - 1, (int)Math.Log2(us));
        _nativeTranslationHistogram[bucket]++;
    }
}

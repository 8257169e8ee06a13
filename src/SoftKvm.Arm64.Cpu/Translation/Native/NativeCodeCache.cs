using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;
using SoftKvm.Arm64.Cpu.Translation.Native.X64;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// The process-wide cache of native code: one <see cref="ExecutableMemory"/> region holding the link slots
/// (first <see cref="SlotAreaSize"/> bytes: one 8-byte slot per chainable exit, the target of its
/// <c>jmp [slot]</c>), the shared routines (entry trampoline, epilogue, jump-cache lookup) and the blocks,
/// allocated by bumping a pointer; the blocks by id; and the entries, in chains by the host address of their
/// instruction (a block's code depends on the words there, the guest address and the mode, never on the
/// PE or the VM, so any PE of any VM may run it). Translating, linking and unlinking take
/// <see cref="Lock"/>; when the region is full everything is dropped at once (<see cref="Flush"/>) while no
/// PE runs native code (each is inside <see cref="RunGate"/> while it does).
/// </summary>
internal sealed unsafe class NativeCodeCache
{
    /// <summary>The size of the region (reserved; pages are allocated as they are written).</summary>
    public const long RegionSize = 512L << 20;

    /// <summary>The part of the region that holds link slots.</summary>
    public const long SlotAreaSize = 16L << 20;

    /// <summary>log2 of the number of slots of the entry table.</summary>
    public const int EntryBits = 16;

    private static NativeCodeCache? s_instance;
    private static readonly Lock s_create = new();

    private readonly ExecutableMemory _memory = new(RegionSize);
    private readonly NativeEntry?[] _entries = new NativeEntry?[1 << EntryBits];
    private NativeBlock?[] _blocks = new NativeBlock?[4096];
    private long _slotTop;
    private long _codeTop;
    private long _routinesEnd;
    private int _blockCount;


    /// <summary>The cache of this process (created at first use).</summary>
    public static NativeCodeCache Instance
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // inlined where it is read (every run, every helper call); NativeAOT calls it otherwise
        get => Volatile.Read(ref s_instance) ?? Create();
    }

    private static NativeCodeCache Create()
    {
        lock (s_create)
        {
            return s_instance ??= new NativeCodeCache();
        }
    }

    private NativeCodeCache()
    {
        _codeTop = SlotAreaSize;
        EmitRoutines();
        _routinesEnd = _codeTop;
    }

    /// <summary>Guards translation into the region, the block table and the links.</summary>
    public Lock Lock { get; } = new();

    /// <summary>Held for reading by every PE while it runs native code; for writing by <see cref="Flush"/>.</summary>
    public NativeRunGate RunGate { get; } = new();

    /// <summary>Bumped by every flush: a PE clears its jump cache when it sees a new generation.</summary>
    public long Generation { get; private set; }

    /// <summary>Set when a translation found the region full: the next PE to start running flushes.</summary>
    public bool FlushPending { get; set; }

    /// <summary>The entry trampoline: <c>ulong Enter(NativeContext* context, nint code)</c>.</summary>
    public delegate* unmanaged<NativeContext*, nint, ulong> Enter { get; private set; }

    /// <summary>The shared epilogue (native code jumps here with the exit code in rax).</summary>
    public ulong Epilogue { get; private set; }

    /// <summary>The jump-cache lookup (native code jumps here with the guest target in rax).</summary>
    public ulong JumpLookup { get; private set; }

    /// <summary>Bytes of code in the region (blocks only).</summary>
    public long CodeBytes => _codeTop - _routinesEnd;

    /// <summary>Blocks in the cache.</summary>
    public int BlockCount => _blockCount;

    /// <summary>A new link slot (its executable-side address); 0 when the slot area is full.</summary>
    public nint AllocateSlot()
    {
        long offset = Interlocked.Add(ref _slotTop, 8) - 8;
        return offset + 8 > SlotAreaSize ? 0 : (nint)(_memory.Executable + offset);
    }

    /// <summary>Points the link slot <paramref name="slot"/> at <paramref name="target"/> (one aligned 8-byte store).</summary>
    public void SetSlot(nint slot, nint target) =>
        Volatile.Write(ref *(long*)_memory.WritableOf((byte*)slot), target);

    /// <summary>The next block id (the block is registered by <see cref="Commit"/>).</summary>
    public int NextBlockId() => _blockCount;

    /// <summary>
    /// Encodes the code in <paramref name="asm"/> at the top of the region (call with <see cref="Lock"/>
    /// held); its address, or 0 when the region is full (a flush is then pending).
    /// </summary>
    public nint Place(X64Assembler asm, out int size)
    {
        long room = RegionSize - _codeTop;
        byte* at = _memory.Executable + _codeTop;
        size = room > 0 ? asm.Assemble(_memory.WritableOf(at), (ulong)at, (int)Math.Min(room, int.MaxValue)) : -1;
        if (size < 0)
        {
            FlushPending = true;
            return 0;
        }

        _codeTop = (_codeTop + size + 15) & ~15L;
        return (nint)at;
    }

    /// <summary>The address of the shared routine for <paramref name="key"/>, or 0 when there is none yet (call with <see cref="Lock"/> held).</summary>
    public ulong SharedRoutine<TKey>(TKey key)
        where TKey : struct, IEquatable<TKey> => SharedRoutines<TKey>().GetValueOrDefault(key);

    /// <summary>
    /// The table of the shared routines keyed by <typeparamref name="TKey"/> (call with <see cref="Lock"/> held), emptied
    /// here when the cache was flushed since it was last used (its routines went with the blocks).
    /// </summary>
    private Dictionary<TKey, ulong> SharedRoutines<TKey>()
        where TKey : struct, IEquatable<TKey>
    {
        if (SharedRoutineTable<TKey>.Generation != Generation)
        {
            SharedRoutineTable<TKey>.Entries.Clear();
            SharedRoutineTable<TKey>.Generation = Generation;
        }

        return SharedRoutineTable<TKey>.Entries;
    }

    /// <summary>
    /// Routines blocks call, placed among them on demand (X64Lowering.PointerAuth.cs), by what they compute: one table per
    /// key type, a static of this class (the cache is one per process), so that the look-up at every PAC site and BTI
    /// block entry translated neither boxes its key nor compares it through an interface, and finds its table without a
    /// look-up by <see cref="Type"/> (that one, a dictionary of the tables, was about 0.5% of the max boot's host samples:
    /// the type's hash and an interface call per look-up).
    /// </summary>
    private static class SharedRoutineTable<TKey>
        where TKey : struct, IEquatable<TKey>
    {
        public static readonly Dictionary<TKey, ulong> Entries = [];

        /// <summary>The cache's <see cref="Generation"/> the entries were placed in.</summary>
        public static long Generation;
    }

    /// <summary>
    /// Places the code in <paramref name="asm"/> as the shared routine for <paramref name="key"/> (call with <see cref="Lock"/>
    /// held); its address, or 0 when the region is full. Dropped with the blocks at a flush.
    /// </summary>
    public ulong PlaceSharedRoutine<TKey>(TKey key, X64Assembler asm, string name)
        where TKey : struct, IEquatable<TKey>
    {
        nint at = Place(asm, out int size);
        if (at != 0)
        {
            SharedRoutines<TKey>()[key] = (ulong)at;
            s_perfMap?.Write($"{(ulong)((byte*)at - _memory.Executable):x} {size:x} {name}\n");
            NativeCodeDump.WriteRoutine(name, at, size, OffsetOf(at));
        }

        return (ulong)at;
    }

    /// <summary>
    /// With SOFTKVM_PERF_MAP=1, each block's code is named in /tmp/softkvm-code-PID.map ("offset size name",
    /// the offset into the code's memfd, which is how perf reports samples in memfd:softkvm-a64-code).
    /// </summary>
    private static readonly StreamWriter? s_perfMap = Environment.GetEnvironmentVariable("SOFTKVM_PERF_MAP") == "1"
        ? new StreamWriter($"/tmp/softkvm-code-{Environment.ProcessId}.map", append: true) { AutoFlush = true }
        : null;

    /// <summary>The offset of <paramref name="code"/> in the region (in its memfd: what perf reports).</summary>
    public long OffsetOf(nint code) => (byte*)code - _memory.Executable;

    /// <summary>Registers <paramref name="block"/> and installs its entries (call with <see cref="Lock"/> held).</summary>
    public void Commit(NativeBlock block)
    {
        s_perfMap?.Write($"{OffsetOf(block.Code):x} {block.CodeSize:x} a64_block_{block.Pc:x}\n");
        if (_blockCount == _blocks.Length)
        {
            Array.Resize(ref _blocks, _blocks.Length * 2);
        }

        _blocks[_blockCount++] = block;
        foreach (NativeEntry e in block.Entries)
        {
            // At the head of its chain: complete before it is published (readers walk without the lock).
            ref NativeEntry? head = ref _entries[Slot(e.Host)];
            e.Next = head;
            Volatile.Write(ref head, e);
        }
    }

    /// <summary>The block with id <paramref name="id"/>.</summary>
    public NativeBlock Block(int id) => _blocks[id]!;

    /// <summary>The live entry for (<paramref name="host"/>, <paramref name="pc"/>, <paramref name="mode"/>), if the cache has one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public NativeEntry? Find(uint* host, ulong pc, BlockMode mode)
    {
        for (NativeEntry? e = Volatile.Read(ref _entries[Slot(host)]); e is not null; e = e.Next)
        {
            if (e.Host == host && e.Pc == pc && e.Block.Mode == mode && !e.Block.Dead)
            {
                return e;
            }
        }

        return null;
    }

    private static int Slot(uint* host) => (int)((nuint)host >> 2) & ((1 << EntryBits) - 1);

    /// <summary>Links exit <paramref name="exit"/> of <paramref name="from"/> to <paramref name="to"/> (both alive).</summary>
    public void Link(NativeBlock from, int exit, NativeEntry to)
    {
        lock (Lock)
        {
            if (from.Dead || to.Block.Dead)
            {
                return;
            }

            NativeExitInfo info = from.Exits[exit];
            SetSlot(info.Slot, to.Code);
            to.Block.Incoming.Add((from, exit));
        }
    }

    /// <summary>
    /// Drops every block with an entry at <paramref name="host"/> whose words are no longer in guest
    /// memory (after a stale exit there: the blocks of code that was at this host address before, of this
    /// VM or of one that had its memory here, all go at once).
    /// </summary>
    public void KillStale(uint* host)
    {
        for (NativeEntry? e = Volatile.Read(ref _entries[Slot(host)]); e is not null; e = e.Next)
        {
            if (e.Host == host && !e.Block.Dead && !e.Block.MatchesMemory())
            {
                Kill(e.Block);
            }
        }
    }

    /// <summary>
    /// Drops <paramref name="block"/>: its entries leave the table and the exits linked to it go back to
    /// the run loop. Its code stays until the next flush (a PE may be running it, or hold its address in
    /// a jump cache; its stale check sends such a PE back).
    /// </summary>
    public void Kill(NativeBlock block)
    {
        lock (Lock)
        {
            if (block.Dead)
            {
                return;
            }

            block.Dead = true;
            foreach (NativeEntry e in block.Entries)
            {
                // Unlinked from its chain; a reader standing on it still reaches the rest through its Next.
                ref NativeEntry? link = ref _entries[Slot(e.Host)];
                while (link is not null && link != e)
                {
                    link = ref link.Next;
                }

                if (link is not null)
                {
                    Volatile.Write(ref link, e.Next);
                }
            }

            foreach ((NativeBlock from, int exit) in block.Incoming)
            {
                NativeExitInfo info = from.Exits[exit];
                SetSlot(info.Slot, info.Unlinked);
            }

            block.Incoming.Clear();
        }
    }

    /// <summary>
    /// Drops every block (when the region is full): inside <see cref="RunGate"/> alone, so no PE is
    /// running native code; PEs see the new <see cref="Generation"/> and clear their jump caches.
    /// </summary>
    public void Flush()
    {
        RunGate.BeginExclusive();
        try
        {
            lock (Lock)
            {
                if (!FlushPending)
                {
                    return;
                }

                Array.Clear(_entries);
                Array.Clear(_blocks);
                _blockCount = 0;
                _codeTop = _routinesEnd;
                _slotTop = 0;
                Generation++;
                FlushPending = false;
            }
        }
        finally
        {
            RunGate.EndExclusive();
        }
    }

    /// <summary>The trampoline, the epilogue and the jump-cache lookup, at the start of the code area.</summary>
    private void EmitRoutines()
    {
        var asm = new X64Assembler();
        AsmLabel enter = asm.NewLabel(), epilogue = asm.NewLabel(), lookup = asm.NewLabel(), miss = asm.NewLabel();
        Reg[] saved = [Reg.Rbx, Reg.Rbp, Reg.R12, Reg.R13, Reg.R14, Reg.R15];

        // ulong Enter(NativeContext* context (rdi), nint code (rsi))
        asm.Bind(enter);
        foreach (Reg r in saved)
        {
            asm.Push(r);
        }

        asm.AluImm(Alu.Sub, Reg.Rsp, 8, true); // 16-byte alignment at helper calls
        asm.Mov(X64Layout.Context, Reg.Rdi);
        asm.Load(X64Layout.Budget, new Mem(X64Layout.Context, ContextOffsets.BudgetLeft), 8);
        asm.JmpReg(Reg.Rsi);

        // Native code leaves here with the exit code in rax.
        asm.Bind(epilogue);
        asm.Store(new Mem(X64Layout.Context, ContextOffsets.BudgetLeft), X64Layout.Budget, 8);
        asm.AluImm(Alu.Add, Reg.Rsp, 8, true);
        for (int i = saved.Length - 1; i >= 0; i--)
        {
            asm.Pop(saved[i]);
        }

        asm.Ret();

        // rax = guest target; registers and flags are in the context. A hit needs the same PC, the same mode
        // key (EL, SP, alignment, ASID context) and the execute TLB mapping the page to the same host page.
        asm.Bind(lookup);
        asm.Store(new Mem(X64Layout.Context, ContextOffsets.Pc), Reg.Rax, 8);
        asm.Mov(Reg.Rcx, Reg.Rax, false);
        asm.ShiftImm(Shift.Shr, Reg.Rcx, 13, false);
        asm.Alu(Alu.Xor, Reg.Rcx, Reg.Rax, false);
        asm.ShiftImm(Shift.Shl, Reg.Rcx, 3, false);
        asm.AluImm(Alu.And, Reg.Rcx, (JumpCache.Size - 1) << 5, false); // ((pc >> 2) ^ (pc >> 15)) * 32
        asm.AluMem(Alu.Add, Reg.Rcx, new Mem(X64Layout.Context, ContextOffsets.JumpCache), true);
        asm.CmpMemReg(new Mem(Reg.Rcx, 0), Reg.Rax, true);
        asm.Jcc(Cc.NE, miss);
        asm.Load(Reg.Rdx, new Mem(X64Layout.Context, ContextOffsets.ModeKey), 8);
        asm.CmpMemReg(new Mem(Reg.Rcx, 8), Reg.Rdx, true);
        asm.Jcc(Cc.NE, miss);

        // The execute TLB still maps the page, to the same host page (r11: free at any exit).
        asm.Mov(Reg.Rdx, Reg.Rax, false);
        asm.ShiftImm(Shift.Shr, Reg.Rdx, 8, false);
        asm.AluImm(Alu.And, Reg.Rdx, 0x3FF0, false);
        asm.AluMem(Alu.Add, Reg.Rdx, new Mem(X64Layout.Context, ContextOffsets.ExecTlb), true);
        asm.Mov(Reg.R11, Reg.Rax);
        asm.AluImm(Alu.And, Reg.R11, -4096, true);
        asm.AluMem(Alu.Or, Reg.R11, new Mem(X64Layout.Context, ContextOffsets.TagEl), true);
        asm.CmpMemReg(new Mem(Reg.Rdx, 0), Reg.R11, true);
        asm.Jcc(Cc.NE, miss);
        asm.Load(Reg.R11, new Mem(Reg.Rdx, 8), 8);
        asm.CmpMemReg(new Mem(Reg.Rcx, 24), Reg.R11, true);
        asm.Jcc(Cc.NE, miss);
        asm.AluMemImm(Alu.Add, new Mem(X64Layout.Context, ContextOffsets.JumpCacheHits), 1, 8);
        asm.JmpMem(new Mem(Reg.Rcx, 16));
        asm.Bind(miss);
        asm.MovImm(Reg.Rax, (ulong)NativeExit.JumpCacheMiss);
        asm.Jmp(epilogue);

        byte* at = _memory.Executable + _codeTop;
        int size = asm.Assemble(_memory.WritableOf(at), (ulong)at, 4096);
        Enter = (delegate* unmanaged<NativeContext*, nint, ulong>)(nint)asm.AddressOf(enter);
        Epilogue = asm.AddressOf(epilogue);
        JumpLookup = asm.AddressOf(lookup);
        _codeTop += (size + 63) & ~63;
    }
}

/// <summary>The per-PE jump cache's geometry.</summary>
internal static class JumpCache
{
    /// <summary>Entries (a power of two).</summary>
    public const int Size = 8192;

    /// <summary>
    /// The slot of guest address <paramref name="pc"/>: PC bits [14:2] mixed with bits [27:15], so that
    /// code spread over megabytes (a kernel) does not crowd a few slots. The lookup routine computes the same.
    /// </summary>
    public static int Slot(ulong pc) => (int)((pc >> 2) ^ (pc >> 15)) & (Size - 1);
}

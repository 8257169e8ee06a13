using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;
using SoftKvm.Arm64.Cpu.Translation.Native.X64;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The native engine's run loop: every block is translated to x86-64 at its first execution
/// (<see cref="NativeTranslator"/>) and entered through the code cache's trampoline; the native code
/// runs block after block through linked exits and the jump cache, and comes back here for what only
/// the run loop does: a request or the end of the budget, an exit not linked yet, a jump-cache miss, a
/// guest exception, a trap, an instruction that changed what the loop watches, a block whose words
/// changed. Where no block may run (a hardware breakpoint armed, something to check before every
/// instruction, less budget left than a block may use) the interpreter runs instead, as it does on hosts
/// that are not x86-64 Linux.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    /// <summary>Whether this host runs native code: x86-64 Linux (mmap, memfd, the System V ABI) with LZCNT.</summary>
    public static readonly bool NativeSupported =
        RuntimeInformation.ProcessArchitecture == Architecture.X64 && OperatingSystem.IsLinux()
        && System.Runtime.Intrinsics.X86.Lzcnt.X64.IsSupported;

    /// <summary>Whether new vCPUs translate to native code (SOFTKVM_TRANSLATE=0 turns it off, for comparisons).</summary>
    public static readonly bool DefaultTranslation = Environment.GetEnvironmentVariable("SOFTKVM_TRANSLATE") != "0";

    [ThreadStatic]
    private static Arm64Cpu? t_native;

    private readonly JumpCacheEntry[] _jumpCache = GC.AllocateArray<JumpCacheEntry>(JumpCache.Size, pinned: true);
    private NativeRunGate.Seat? _runSeat;
    private long _jumpCacheGeneration = -1;
    private long _nativeLimit;
    private long _retiredInFlight;
    private Exception? _nativeFault;

    /// <summary>Whether this PE translates to native code (where <see cref="NativeSupported"/>); else it interprets.</summary>
    public bool TranslationEnabled { get; set; } = DefaultTranslation;

    /// <summary>Compile times of the native blocks this PE translated, in stopwatch ticks (for the profile).</summary>
    public List<long> NativeCompileTicks { get; } = [];

    /// <summary>Returns of native code to the run loop, by <see cref="NativeExit"/> (for the profile).</summary>
    public long[] NativeExits { get; } = new long[16];

    /// <summary>Instructions native code ran through the interpreter, by op (for the profile).</summary>
    public long[] NativeFallbacks { get; } = new long[(int)A64Op.Count];

    /// <summary>Indirect branches the jump cache resolved inside native code.</summary>
    public long JumpCacheHits => _context->JumpCacheHits;

    /// <summary>
    /// The native engine's figures for the profile: compile time per block (median and p99), the code
    /// cache's size, indirect branches the jump cache resolved (and its hit rate against the misses that
    /// came back to the run loop), exits to the run loop by kind, and the ops run through the interpreter.
    /// </summary>
    public IEnumerable<KeyValuePair<string, long>> NativeStatistics()
    {
        if (NativeCompileTicks.Count == 0 && NativeBlockEntries == 0)
        {
            yield break; // no native code ran (a PE that only ran blocks another PE translated still reports the rest)
        }

        if (NativeCompileTicks.Count != 0)
        {
            long[] ticks = [.. NativeCompileTicks];
            Array.Sort(ticks);
            static long Us(long t) => t * 1_000_000 / Stopwatch.Frequency;
            yield return new("native_compile_us_median", Us(ticks[ticks.Length / 2]));
            yield return new("native_compile_us_p99", Us(ticks[(int)(ticks.Length * 0.99)]));
        }

        yield return new("native_code_bytes", NativeCodeCache.Instance.CodeBytes);
        // Entries through a linked exit: all entries but the run loop's and the jump cache's; the direct
        // exits not linked yet (Chain) went through the run loop. Rates in thousandths.
        long hits = JumpCacheHits, misses = NativeExits[(int)NativeExit.JumpCacheMiss];
        long chained = Math.Max(0, NativeBlockEntries - Counters.TranslatedBlocksRun - hits), unlinked = NativeExits[(int)NativeExit.Chain];
        yield return new("native_block_entries", NativeBlockEntries);
        yield return new("native_chained_entries", chained);
        yield return new("native_chained_per_mille", chained * 1000 / Math.Max(1, chained + unlinked));
        yield return new("native_jump_cache_hits", hits);
        yield return new("native_indirect_hits_per_mille", hits * 1000 / Math.Max(1, hits + misses));
        for (int i = 0; i < NativeExits.Length; i++)
        {
            if (NativeExits[i] != 0)
            {
                yield return new($"native_exit_{(NativeExit)i}", NativeExits[i]);
            }
        }

        yield return new("native_access_helper_calls", NativeAccessHelperCalls);
        yield return new("native_device_reads", NativeDeviceReadCount);
        yield return new("native_controller_helper_calls", NativeControllerHelperCalls);
        yield return new("native_hypercall_helper_calls", NativeHypercallHelperCalls);
        yield return new("native_resumes", NativeResumes);
        foreach (var (op, count) in NativeFallbacks.Select((c, i) => ((A64Op)i, c)).Where(p => p.c > 0).OrderByDescending(p => p.c).Take(12))
        {
            yield return new($"native_fallback_{op}", count);
        }
    }

    /// <summary>Block entries past their checks (<see cref="NativeContext.BlockEntries"/>).</summary>
    private long NativeBlockEntries => _context->BlockEntries;

    /// <summary>Asks running native code to come back to the run loop at its next block entry or backward branch (any thread).</summary>
    public void RequestExit() => Volatile.Write(ref _context->ExitRequest, 1);

    private void InitializeNative()
    {
        _context->ReadTlb = (TlbEntry*)Unsafe.AsPointer(ref _readTlb[0]);
        _context->WriteTlb = (TlbEntry*)Unsafe.AsPointer(ref _writeTlb[0]);
        _context->ExecTlb = (TlbEntry*)Unsafe.AsPointer(ref _execTlb[0]);
        _context->ExecInfo = (byte*)Unsafe.AsPointer(ref _execInfo[0]);
        _context->JumpCache = (JumpCacheEntry*)Unsafe.AsPointer(ref _jumpCache[0]);
        _context->PairSpin = _shared.PairSpin;
        _context->Helpers[(int)NativeHelper.Interpret] = (nint)(delegate* unmanaged<NativeContext*, int, int, long>)&InterpretHelper;
        InitializeExitHelpers();
    }

    /// <summary>Forgets every jump-cache entry (the code cache was flushed).</summary>
    private void ClearJumpCache() => Array.Clear(_jumpCache);

    /// <summary>
    /// Puts <paramref name="entry"/> in the jump cache for <paramref name="modeKey"/>, with the execute-TLB
    /// delta of its page (which the run loop has just fetched through, so the TLB maps it).
    /// </summary>
    private void RememberJump(NativeEntry entry, ulong modeKey)
    {
        ref JumpCacheEntry slot = ref _jumpCache[JumpCache.Slot(entry.Pc)];
        slot.Pc = entry.Pc;
        slot.Mode = modeKey;
        slot.Code = entry.Code;
        slot.ExecDelta = _execTlb[(int)(entry.Pc >> 12) & TlbMask].Delta;
    }

    /// <summary>The mode blocks must have been compiled for to run now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every block look-up and every resume after a VMM exit; NativeAOT calls it otherwise
    private BlockMode CurrentBlockMode()
    {
        BlockMode mode = BlockMode.None;
        ulong saCheck = SctlrSa0;
        if (State.El != 0)
        {
            mode |= BlockMode.El1;
            saCheck = SctlrSa;
            if ((State.PstateFlags & Psr.Uao) != 0)
            {
                mode |= BlockMode.Uao;
            }

            if (State.SpSel)
            {
                mode |= BlockMode.SpEl1;
            }
        }

        if (_unalignedAllowed)
        {
            mode |= BlockMode.Unaligned;
        }

        if (Has(CpuFeatures.Pauth))
        {
            mode |= BlockMode.Pauth;
            if (_model.PacAlgorithm == PacAlgorithm.Impdef)
            {
                mode |= BlockMode.PacImpdef | PacConfiguration.Of(State.TcrEl1);
            }
        }

        if (Has(CpuFeatures.Bti))
        {
            mode |= BlockMode.Bti;
        }

        if (Has(CpuFeatures.Lse))
        {
            mode |= BlockMode.Lse;
        }

        if ((State.SctlrEl1 & saCheck) != 0)
        {
            mode |= BlockMode.SpAlignCheck;
        }

        return mode;
    }

    private CpuExit RunNative(ref int requests, long budget)
    {
        NativeCodeCache cache = NativeCodeCache.Instance;
        if (cache.FlushPending && t_native is null)
        {
            cache.Flush(); // not from a run inside another (a hook's): that one is inside the gate the flush waits on
        }

        NativeRunGate.Seat seat = _runSeat ??= cache.RunGate.NewSeat();
        cache.RunGate.Enter(seat);
        Arm64Cpu? outer = t_native;
        t_native = this;
        try
        {
            return RunNativeLocked(ref requests, budget, cache);
        }
        finally
        {
            t_native = outer;
            cache.RunGate.Exit(seat);
        }
    }

    private CpuExit RunNativeLocked(ref int requests, long budget, NativeCodeCache cache)
    {
        if (_memoryGeneration != _memory.Generation)
        {
            FlushTlb();
        }

        if (_jumpCacheGeneration != cache.Generation)
        {
            ClearJumpCache();
            _jumpCacheGeneration = cache.Generation;
        }

        NativeContext* ctx = _context;
        int stale = 0;
        bool tail = false; // an entry found less budget left than its block may retire before its next check
        while (true)
        {
            // A resume point noted by the last pass is for the next one only (Arm64Cpu.Resume.cs).
            bool resume = _resumeArmed;
            _resumeArmed = false;
            if (Volatile.Read(ref ctx->ExitRequest) != 0)
            {
                Interlocked.Exchange(ref ctx->ExitRequest, 0); // before the looks below: a later request sets it again
            }

            if (Volatile.Read(ref requests) != 0)
            {
                return CpuExit.Request;
            }

            if (budget <= 0)
            {
                return CpuExit.Budget;
            }

            if (_tlbEpoch != _shared.TlbEpoch)
            {
                ReplayBroadcastTlbi();
            }

            // PSTATE.BTYPE != 0 (after a branch, or restored by ERET): a block entry checks the landing pad
            // as BranchTargetPasses does and clears BTYPE; where that fails the interpreter takes the Branch
            // Target exception (BranchTargets.cs).
            if (!MayRunTranslated || tail || stale > 2
                || ((State.PstateFlags & Psr.Btype) != 0 && !BranchTargetPasses(State.Pc)))
            {
                // Something the interpreter must see before every instruction: while it may pass (a pending
                // interrupt, an illegal state) one instruction at a time; while it lasts the run (a breakpoint,
                // the PMU counting, the debugger, instruction hooks) the whole budget.
                bool lasting = _pmuCounting || DebugInterpretOnly || _hooks is { EveryInstruction: true };
                long slice = lasting || tail ? budget : 1;
                stale = 0;
                CpuExit e = RunInterpreter(ref requests, slice);
                if (e != CpuExit.Budget)
                {
                    return e;
                }

                budget -= slice;
                continue;
            }

            ulong pc = State.Pc;
            uint* host = FetchHost(pc);
            if (host == null)
            {
                budget--; // an exception was taken instead (the interpreter counts it so too)
                continue;
            }

            nint code;
            ulong modeKey;
            int pending = 0; // the instructions a resumed block counts again at its next count (already retired)
            if (resume && TryResume(cache, host, budget, out code, out pending))
            {
                modeKey = _resumeModeKey;
            }
            else
            {
                BlockMode mode = CurrentBlockMode();
                NativeEntry? entry = cache.Find(host, pc, mode) ?? TranslateNative(cache, host, pc, mode);
                if (entry is null)
                {
                    CpuExit e = RunInterpreter(ref requests, 1);
                    if (e != CpuExit.Budget)
                    {
                        return e;
                    }

                    budget--;
                    continue;
                }

                modeKey = _tagEl | ((ulong)mode << 16);
                RememberJump(entry, modeKey);
                code = entry.Code;
            }

            long limit = budget; // each check leaves while less is left than the code after it may retire (BudgetBounds)
            _nativeLimit = limit;
            ctx->BudgetLeft = limit + pending;
            ctx->TagEl = _tagEl;
            ctx->TagUnprivileged = _tagUnprivileged;
            ctx->ModeKey = modeKey;
            ctx->FlagsImage = X64Lowering.ImageOf(State.Nzcv >> 28);
            ulong result = cache.Enter(ctx, code);
            if (ctx->DeviceReads.MmioPending != 0)
            {
                TakeNativeMmioValue(); // a device read native code completed (Arm64Cpu.DeviceReads.cs)
            }

            State.Nzcv = NzcvOfImage(ctx->FlagsImage);
            long retired = limit - ctx->BudgetLeft;
            Retired += retired;
            NoteExceptionLevel(); // a block changes the exception level at most once, at its end (Arm64Cpu.Pmu.cs)
            budget -= retired;
            Counters.TranslatedBlocksRun++;
            Counters.TranslatedInstructions += retired;

            var reason = (NativeExit)(byte)result;
            int index = (int)(uint)result >> 8;
            NativeExits[(int)reason & 15]++;
            switch (reason)
            {
                case NativeExit.Chain:
                    {
                        NativeBlock block = cache.Block((int)(result >> 32));
                        NativeExitInfo exit = block.Exits[index];
                        State.Pc = exit.TargetPc;
                        LinkExit(cache, block, index, exit);
                        stale = 0;
                        break;
                    }

                case NativeExit.RunLoop:
                case NativeExit.BackEdgeCheck:
                    State.Pc = cache.Block((int)(result >> 32)).Exits[index].TargetPc;
                    stale = 0;
                    break;
                case NativeExit.Retired:
                    stale = 0;
                    break; // PC is set
                case NativeExit.EntryCheck:
                    if (index != NativeBlock.ResumeOrdinal)
                    {
                        State.Pc = cache.Block((int)(result >> 32)).Entries[index].Pc; // a resume's is PC already
                    }

                    tail = budget < NativeTranslator.MaxInstructions; // else an exit request: seen above
                    break;
                case NativeExit.Stale when index == NativeBlock.ResumeOrdinal:
                    cache.Kill(cache.Block((int)(result >> 32))); // its words changed while the hypervisor completed the access
                    Counters.BlocksInvalidated++;
                    stale++;
                    break;
                case NativeExit.Stale:
                    {
                        NativeEntry e = cache.Block((int)(result >> 32)).Entries[index];
                        State.Pc = e.Pc;
                        cache.KillStale(e.Host);
                        Counters.BlocksInvalidated++;
                        stale++;
                        break;
                    }

                case NativeExit.Trap:
                    NoteResumePoint(cache);
                    return _pendingExit;
                case NativeExit.InternalError:
                    {
                        Exception fault = _nativeFault!;
                        _nativeFault = null;
                        throw new InvalidOperationException($"native code helper failed at PC {State.Pc:x}", fault);
                    }

                case NativeExit.Exception:
                    budget--; // the instruction that took it used a unit of budget, as in the interpreter
                    stale = 0;
                    break; // PC is set
                default:
                    stale = 0;
                    break; // JumpCacheMiss: PC is set
            }

            if (_reevaluate)
            {
                _reevaluate = false;
                return CpuExit.Reevaluate;
            }
        }
    }

    /// <summary>Points a direct exit at the block of its target (translating it now if needed).</summary>
    private void LinkExit(NativeCodeCache cache, NativeBlock block, int index, NativeExitInfo exit)
    {
        if (exit.Slot == 0 || block.Dead)
        {
            return;
        }

        uint* host = (uint*)((byte*)block.Host + (long)(exit.TargetPc - block.Pc));
        NativeEntry? target = cache.Find(host, exit.TargetPc, block.Mode) ?? TranslateNative(cache, host, exit.TargetPc, block.Mode);
        if (target is not null)
        {
            cache.Link(block, index, target);
            Counters.BlocksChained++;
        }
    }

    private NativeEntry? TranslateNative(NativeCodeCache cache, uint* host, ulong pc, BlockMode mode)
    {
        long start = Stopwatch.GetTimestamp();
        NativeEntry? entry = NativeTranslator.ForThisThread.Translate(cache, host, pc, mode);
        long ticks = Stopwatch.GetTimestamp() - start;
        if (entry is null)
        {
            return null;
        }

        ulong modeKey = _tagEl | ((ulong)mode << 16);
        foreach (NativeEntry e in entry.Block.Entries)
        {
            RememberJump(e, modeKey);
        }

        NativeCompileTicks.Add(ticks);
        Counters.BlocksTranslated++;
        Counters.TranslatedBlockInstructions += entry.Block.Indices.Length;
        Counters.TranslationMicroseconds += ticks * 1_000_000 / Stopwatch.Frequency;
        return entry;
    }

    /// <summary>PSTATE.NZCV from the native flags image (<see cref="NativeContext.FlagsImage"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // NativeAOT does not inline it on its own (an exit path)
    internal static uint NzcvOfImage(ushort image)
    {
        uint ah = (uint)image >> 8;
        return (((ah >> 7) & 1) << 31) | (((ah >> 6) & 1) << 30) | ((ah & 1) << 29) | (((uint)image & 1) << 28);
    }

    /// <summary>
    /// Native code's way into the interpreter: runs instruction <paramref name="position"/> of block
    /// <paramref name="blockId"/> with the handler the interpreter uses. Returns <see cref="NativeExit.Next"/>,
    /// <see cref="NativeExit.Jump"/> (PC set), <see cref="NativeExit.Retired"/> (PC set), or the exit for
    /// an exception or a trap. Nothing may escape into native frames: a host exception becomes
    /// <see cref="NativeExit.InternalError"/>, rethrown by the run loop.
    /// </summary>
    [UnmanagedCallersOnly]
    private static long InterpretHelper(NativeContext* context, int blockId, int position)
    {
        Arm64Cpu cpu = t_native!;
        try
        {
            NativeBlock block = NativeCodeCache.Instance.Block(blockId);
            return cpu.InterpretForNative(block.Words[position], block.Pc + (ulong)(4L * block.Indices[position]), block.Ops[position]);
        }
        catch (Exception e)
        {
            cpu._nativeFault = e;
            return (long)NativeExit.InternalError;
        }
    }

    private long InterpretForNative(uint word, ulong pc, A64Op op)
    {
        NativeContext* ctx = _context;
        State.Nzcv = NzcvOfImage(ctx->FlagsImage);
        State.Pc = pc;
        NativeFallbacks[(int)op]++;

        // The block's instructions before this one, not yet in Retired: the budget register at the call (stored by
        // the interpret routine) and the count since its last update, which includes this instruction.
        _retiredInFlight = _nativeLimit - ctx->BudgetLeft + (long)(ctx->Scratch >> 16) - 1;
        _trapCompleted = false;
        Flow flow = OpDispatch.Handlers[(int)op](this, word);
        _retiredInFlight = 0;
        ctx->FlagsImage = X64Lowering.ImageOf(State.Nzcv >> 28);
        ctx->TagEl = _tagEl;
        ctx->TagUnprivileged = _tagUnprivileged;
        switch (flow)
        {
            case Flow.Next:
                // The block goes on, unless the instruction changed what the run loop watches or what the
                // block was compiled for (EL, SP, alignment, the address space): then it retires here and
                // the run loop looks (an MRS or a DSB goes on; an MSR to DAIF, SCTLR or TTBR0 leaves).
                if (_reevaluate || !MayRunTranslated || ctx->ModeKey != (_tagEl | ((ulong)CurrentBlockMode() << 16)))
                {
                    State.Pc = pc + 4;
                    return (long)NativeExit.Retired;
                }

                return (long)NativeExit.Next;
            case Flow.Jump:
                // A branch that set BTYPE goes on through the jump cache only where the target passes its
                // landing-pad check; else the run loop has the interpreter check it.
                return (State.PstateFlags & Psr.Btype) == 0 || BranchTargetPasses(State.Pc)
                    ? (long)NativeExit.Jump : (long)NativeExit.Retired;
            case Flow.Exception:
                // A trap the hypervisor completed in place (an HVC it answered, a WFI with an interrupt pending) that did
                // nothing but retire the instruction: on through the jump cache, as after a taken branch, not back to the
                // run loop (an exit KVM takes without leaving its run loop, so nothing for the run loop here either). The
                // block counts the instruction as it does a branch, so the retirement the hypervisor counted is undone.
                if (_trapCompleted && State.Pc == pc + 4 && !_reevaluate && MayRunTranslated && (State.PstateFlags & Psr.Btype) == 0
                    && ctx->ModeKey == (_tagEl | ((ulong)CurrentBlockMode() << 16)))
                {
                    Retired--;
                    return (long)NativeExit.Jump;
                }

                return (long)NativeExit.Exception;
            default:
                return (long)NativeExit.Trap;
        }
    }
}

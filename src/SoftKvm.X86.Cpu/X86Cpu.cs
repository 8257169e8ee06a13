using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Iced.Intel;
using SoftKvm.Core.Memory;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// The software x86 CPU ("hardware" layer): Iced decodes, this class executes. It implements real
/// mode, 16/32-bit protected mode and long mode with paging, delivers exceptions and interrupts
/// through the guest IDT, and leaves to the hypervisor, as VM exits, what a CPU with VMX would:
/// port IO, accesses to guest-physical addresses without a memory slot, HLT, selected exceptions,
/// CPUID and MSRs on request. Not thread-safe except <see cref="RequestExit"/>.
/// </summary>
public sealed unsafe partial class X86Cpu : IDisposable
{
    private readonly GuestMemory _memory;
    private readonly FetchReader _reader = new();
    private readonly Decoder _decoder16;
    private readonly Decoder _decoder32;
    private readonly Decoder _decoder64;
    private readonly byte* _fetchBuffer;
    private const int DecodeCacheSize = 8192;
    private readonly DecodedInstruction[] _decodeCache = new DecodedInstruction[DecodeCacheSize];

    /// <summary>Diagnostics: the decoded-instruction cache can be turned off to compare against plain decoding.</summary>
    internal bool UseDecodeCache { get; set; } = true;
    private X86Registers _regs;
    private Instruction _insn;
    private X86Exit _exit;
    private int _exitRequested;
    private bool _disposed;

    // Per-instruction state.
    private ulong _nextRip;
    private bool _faulted;
    private bool _exitPending;
    private int _faultVector;
    private uint _faultError;
    private bool _faultHasError;
    private ulong _faultCr2;
    private ulong _faultDr6;
    private int _softwareInterrupt; // -1 none; vector of INT n / INT3 / INTO / INT1 to deliver after retirement
    private bool _softwareIsIcebp;
    private bool _keepRf;
    private IX86EmulationBus? _bus;
    private int _accessSerial;
    private bool _wideAccess;

    // Interrupt state.
    private InterruptShadow _shadow;
    private int _pendingInterrupt = -1;
    private bool _pendingNmi;
    private bool _nmiBlocked;
    private int _injectedVector = -1;
    private uint _injectedError;
    private bool _injectedHasError;
    private bool _injectedIsSoftware;
    private ulong _injectedDr6;
    private bool _injectedInterrupt;

    // Cached mode.
    private int _bitness = 16;
    private int _cpl;

    /// <summary>Creates a vCPU model over <paramref name="memory"/>, in the RESET state.</summary>
    public X86Cpu(GuestMemory memory)
    {
        _memory = memory;
        _decoder16 = Decoder.Create(16, _reader, DecoderOptions.None);
        _decoder32 = Decoder.Create(32, _reader, DecoderOptions.None);
        _decoder64 = Decoder.Create(64, _reader, DecoderOptions.None);
        _fetchBuffer = (byte*)NativeMemory.AllocZeroed(32);
        _regs = X86Registers.PowerOn();
        FlushTlb();
        StateChanged();
    }

    /// <summary>Finalizer: frees the fetch buffer.</summary>
    ~X86Cpu()
    {
        Free();
    }

    /// <summary>The register file (the single source of truth, reached by reference).</summary>
    public ref X86Registers Regs => ref _regs;

    /// <summary>The exit information of the last <see cref="Run"/> or <see cref="EmulateOne"/>.</summary>
    public ref readonly X86Exit Exit => ref _exit;

    /// <summary>The interception controls the hypervisor programs.</summary>
    public X86TrapControls Controls { get; } = new();

    /// <summary>Instructions retired since creation.</summary>
    public long InstructionsRetired { get; private set; }

    /// <summary>Instructions that raised #UD because the model does not implement them.</summary>
    public long UnimplementedCount { get; private set; }

    /// <summary>The Iced code of the last unimplemented instruction (diagnostics).</summary>
    public Code LastUnimplemented { get; private set; }

    /// <summary>Exceptions and interrupts delivered through the guest IDT.</summary>
    public long EventsDelivered { get; private set; }

    /// <summary>The CPU shut down (triple fault); it runs no more code until reset.</summary>
    public bool IsShutdown { get; private set; }

    /// <summary>The current privilege level.</summary>
    public int Cpl => _cpl;

    /// <summary>The current code size: 16, 32 or 64.</summary>
    public int Bitness => _bitness;

    /// <summary>The STI / MOV SS interrupt shadow (VMX guest interruptibility state).</summary>
    public InterruptShadow Shadow
    {
        get => _shadow;
        set => _shadow = value;
    }

    /// <summary>After <see cref="EmulateOne"/> retired the instruction (<see cref="X86EmulationResult.Retired"/>, or
    /// <see cref="X86EmulationResult.Exception"/> for a software interrupt such as INT3 or INTO): RFLAGS.TF was set
    /// when the instruction started and no MOV SS shadow suppresses the trap, so the caller owes a single-step #DB.</summary>
    public bool LastSingleStep { get; private set; }

    /// <summary>
    /// During <see cref="EmulateOne"/>: which data access of the instruction (counted from the start of the
    /// emulation, the same on every re-execution) the current emulation-bus access is a piece of. One access
    /// is one read or write of up to 8 bytes as the instruction makes it, or one 16-byte SSE operand; its
    /// pieces (split at a page boundary, or the 8-byte halves) share the number. Counted where an access leaves
    /// the TLB fast path, the only way to a device. The hypervisor uses it to tell a fragment of the access
    /// that exited last from a new access.
    /// </summary>
    public int EmulatedAccess => _accessSerial;

    /// <summary>The time stamp counter frequency the model advertises (Hz).</summary>
    public long TscFrequency { get; set; } = 1_000_000_000;

    /// <summary>When set, RDTSC counts retired instructions instead of host time (deterministic mode).</summary>
    public bool DeterministicTsc { get; set; }

    /// <summary>
    /// Where the TSC's time comes from, in <see cref="System.Diagnostics.Stopwatch"/> ticks: the hypervisor's guest clock
    /// (virtual in deterministic execution); null: the host's monotonic clock.
    /// </summary>
    public Func<long>? Timestamp { get; set; }

    /// <summary>The guest memory this CPU accesses.</summary>
    public GuestMemory Memory => _memory;

    /// <summary>Asks a running <see cref="Run"/> to return <see cref="X86ExitReason.ExitRequested"/> at the next
    /// instruction boundary. Thread-safe.</summary>
    public void RequestExit() => Volatile.Write(ref _exitRequested, ExitKick);

    /// <summary>Recomputes cached mode state and flushes the TLB; call after editing <see cref="Regs"/> directly.</summary>
    public void StateChanged()
    {
        UpdateMode();
        FlushTlb();
    }

    /// <summary>Resets to the power-on state.</summary>
    public void Reset()
    {
        _regs = X86Registers.PowerOn();
        IsShutdown = false;
        _shadow = InterruptShadow.None;
        _pendingInterrupt = -1;
        _pendingNmi = false;
        _nmiBlocked = false;
        _injectedVector = -1;
        _heldDebugTraps = 0;
        StateChanged();
    }

    /// <summary>
    /// Runs guest code until an exit or until <paramref name="maxInstructions"/> instructions retired.
    /// Returns the reason (details in <see cref="Exit"/>).
    /// </summary>
    public X86ExitReason Run(long maxInstructions) =>
        _hooks is { EveryInstruction: true } ? RunLoop<HookedRun>(maxInstructions) : RunLoop<PlainRun>(maxInstructions);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private X86ExitReason RunLoop<TMode>(long maxInstructions)
        where TMode : struct, IRunMode
    {
        _exit = default;
        _bus = null;
        _declinedLoad = Register.None; // (TryCompleteDeclinedLoad: only the exit just before this run)
        if (IsShutdown)
        {
            _exit.Reason = X86ExitReason.TripleFault;
            return _exit.Reason;
        }

        // A run that goes on where a budget or a kick stopped the previous one is in the middle of the
        // guest's flow: the next taken branch is where to look for a block, not this RIP.
        // (Not so for native blocks past an inexact budget: they end at block boundaries, and are translated at their first execution.)
        _lookUp = _regs.Rip != _resumeRip || (!ExactBudget && _native && _bitness == 64);
        _lookUpCold = false;
        _resumeRip = ulong.MaxValue;

        // Debug traps a MOV SS held across an exit (the hypervisor completed the instruction after it):
        // delivered at this boundary, after an injected event (DeliverPendingEvents keeps the order).
        bool events = _heldDebugTraps != 0;
        for (long n = 0; n < maxInstructions; n++)
        {
            if (Volatile.Read(ref _exitRequested) is not 0 and var requested)
            {
                Volatile.Write(ref _exitRequested, 0);
                _exit.Reason = requested == ExitFastReturn ? X86ExitReason.FastExitReturn : X86ExitReason.ExitRequested;
                _resumeRip = _regs.Rip;
                return _exit.Reason;
            }

            if (_memory.Generation != _tlbGeneration)
            {
                FlushTlb();
            }

            if (events || _injectedVector >= 0 || _pendingNmi || _pendingInterrupt >= 0)
            {
                events = false;
                long delivered = EventsDelivered;
                if (!DeliverPendingEvents())
                {
                    return _exit.Reason;
                }

                if (Controls.MonitorTrapFlag && EventsDelivered != delivered)
                {
                    // The monitor trap flag: an exit at the boundary after an event delivery, before
                    // the handler's first instruction (SDM Vol. 3 26.5.2).
                    _exit.Reason = X86ExitReason.MonitorTrapFlag;
                    return _exit.Reason;
                }
            }

            if (TMode.Hooked)
            {
                // Instruction or block hooks: every instruction is interpreted (docs/hooks.md#engines). The
                // start of a run counts as an arrival; CpuHooks.StartsBlock tells a resumed block apart.
                bool blockStart = _lookUp || n == 0;
                _lookUp = false;
                if (CallInstructionHooks(_hooks!, blockStart))
                {
                    _lookUp = true;
                    n--;
                    continue;
                }
            }
            else if (_lookUp && Translation)
            {
                long retired = RunBlock(maxInstructions - n);
                if (TakesBlockExit())
                {
                    return _exit.Reason;
                }

                if (retired > 0)
                {
                    n += retired - 1;
                    continue;
                }
            }

            ulong before = _regs.Rip;
            if (!Step())
            {
                return _exit.Reason;
            }

            NoteFlow(before);
        }

        _exit.Reason = X86ExitReason.BudgetExhausted;
        _resumeRip = _regs.Rip;
        return _exit.Reason;
    }

    /// <summary>
    /// Executes the instruction at RIP once, with accesses to unbacked guest-physical addresses and
    /// all port IO going to <paramref name="bus"/> (KVM's <c>x86_emulate_instruction</c>). Exceptions are
    /// reported, not delivered; single-step is left to the caller (<see cref="LastSingleStep"/>).
    /// </summary>
    public X86EmulationResult EmulateOne(IX86EmulationBus bus)
    {
        _exit = default;
        _bus = bus;
        try
        {
            ulong flagsBefore = _regs.Rflags;
            InterruptShadow shadowBefore = _shadow;
            if (!Execute(out bool fetchFailed))
            {
                _shadow = shadowBefore;
                if (_exitPending)
                {
                    return _exit.Reason == X86ExitReason.NeedsUserspace ? X86EmulationResult.NeedsUserspace : X86EmulationResult.Failed;
                }

                if (fetchFailed || (_faultVector == ExceptionVector.UD && _undefinedByModel))
                {
                    return X86EmulationResult.Failed;
                }

                _heldDebugTraps = 0; // a fault drops the debug traps a MOV SS held
                SetExceptionExit(_faultVector, _faultError, _faultHasError);
                return X86EmulationResult.Exception;
            }

            Retire(flagsBefore);
            LastSingleStep = (flagsBefore & Rflags.TF) != 0 && _shadow != InterruptShadow.MovSs;
            LastBreakpointHits = _pendingBreakpointHits;
            if (_shadow == InterruptShadow.MovSs)
            {
                // An emulated MOV SS / POP SS: its breakpoint hits are held to the boundary after the next instruction.
                _heldDebugTraps |= LastBreakpointHits;
                LastBreakpointHits = 0;
            }

            if (TryGetIoAccess(ref _insn, out ushort port, out int ioSize))
            {
                LastBreakpointHits |= IoBreakpointHits(port, ioSize);
            }
            if (_softwareInterrupt >= 0)
            {
                int v = _softwareInterrupt;
                _softwareInterrupt = -1;
                SetExceptionExit(v, 0, false);
                return X86EmulationResult.Exception;
            }

            return X86EmulationResult.Retired;
        }
        finally
        {
            _bus = null;
        }
    }

    /// <summary>
    /// Skip-mode decode (KVM's EMULTYPE_SKIP): decodes the instruction at RIP and returns the next RIP,
    /// truncated to 32 bits outside 64-bit mode. Changes no state; false when the code cannot be read or decoded.
    /// </summary>
    public bool TryDecodeNextRip(out ulong nextRip, out int length)
    {
        nextRip = 0;
        length = 0;
        _exit = default;
        _faulted = false;
        _exitPending = false;
        bool ok = Fetch(out _);
        bool exited = _exitPending;
        _faulted = false;
        _exitPending = false;
        if (!ok || exited || _insn.IsInvalid)
        {
            return false;
        }

        length = _insn.Length;
        nextRip = _regs.Rip + (ulong)length;
        if (_bitness != 64)
        {
            // As KVM's skip mode: truncated to 32 bits outside 64-bit mode
            // (docs/kvm-semantics.md#x86-skip-and-single-step).
            nextRip &= 0xFFFFFFFF;
        }
        return true;
    }

    /// <summary>
    /// Queues an exception (or software interrupt) for delivery before the next instruction, as the
    /// VM-entry interruption information does. A #DB carries <paramref name="dr6"/> into DR6.
    /// </summary>
    public void InjectException(int vector, uint errorCode = 0, bool hasErrorCode = false, ulong dr6 = 0, bool software = false)
    {
        _injectedVector = vector;
        _injectedError = errorCode;
        _injectedHasError = hasErrorCode;
        _injectedDr6 = dr6;
        _injectedIsSoftware = software;
        _injectedInterrupt = false;
    }

    /// <summary>Whether an injected event is waiting for delivery.</summary>
    public bool HasInjectedEvent => _injectedVector >= 0;

    /// <summary>The vector of the injected event waiting for delivery, or -1.</summary>
    public int InjectedVector => _injectedVector;

    /// <summary>Raises the external interrupt line with <paramref name="vector"/>; delivered when IF=1 and
    /// no interrupt shadow is active (the model keeps one pending vector, as the INTR pin with an acknowledge).</summary>
    public void SetPendingInterrupt(int vector) => _pendingInterrupt = vector;

    /// <summary>The pending external interrupt vector, or -1.</summary>
    public int PendingInterrupt => _pendingInterrupt;

    /// <summary>Raises NMI.</summary>
    public void SetPendingNmi() => _pendingNmi = true;

    /// <summary>Whether an external interrupt could be delivered now (IF=1, no shadow, nothing injected).</summary>
    public bool InterruptWindowOpen => (_regs.Rflags & Rflags.IF) != 0 && _shadow == InterruptShadow.None && _injectedVector < 0;

    /// <inheritdoc />
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (!_disposed)
        {
            _disposed = true;
            NativeMemory.Free(_fetchBuffer);
            _nativeCode?.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool DeliverPendingEvents()
    {
        if (_injectedVector >= 0)
        {
            int v = _injectedVector;
            _injectedVector = -1;
            ulong ret = _regs.Rip;
            _shadow = InterruptShadow.None;
            if (v == ExceptionVector.DB && !_injectedIsSoftware)
            {
                // An injected #DB and the debug traps a MOV SS held are one debug exception (merged
                // as the VMX pending-debug-exceptions field merges into a #DB).
                SetDr6(_injectedDr6 | _heldDebugTraps);
                _heldDebugTraps = 0;
            }

            if (!DeliverEvent(v, _injectedError, _injectedHasError, ret, _injectedIsSoftware || _injectedInterrupt, _injectedIsSoftware))
            {
                return false;
            }

            // After an injected software interrupt or exception (INT n, INT3, INTO re-injected by the
            // hypervisor), held debug traps are delivered before the handler's first instruction, as if
            // the instruction had run after the MOV SS (SDM Vol. 3 27.7.3 for VM entry).
            return _heldDebugTraps == 0 || DeliverDebugTrap(TakeHeldDebugTraps());
        }

        if (_heldDebugTraps != 0 && _shadow != InterruptShadow.MovSs)
        {
            return DeliverDebugTrap(TakeHeldDebugTraps());
        }

        if (_pendingNmi && !_nmiBlocked && _shadow != InterruptShadow.MovSs)
        {
            _pendingNmi = false;
            _nmiBlocked = true;
            _shadow = InterruptShadow.None;
            return DeliverEvent(ExceptionVector.NMI, 0, false, _regs.Rip, true, false);
        }

        if (_pendingInterrupt >= 0 && (_regs.Rflags & Rflags.IF) != 0 && _shadow == InterruptShadow.None)
        {
            int v = _pendingInterrupt;
            _pendingInterrupt = -1;
            return DeliverEvent(v, 0, false, _regs.Rip, true, false);
        }

        return true;
    }

    /// <summary>
    /// One instruction in Run mode: execute, then deliver faults, traps and debug exceptions as SDM Vol. 3
    /// 6.8.3 and 17.2-17.3 define them (docs/kvm-semantics.md#x86-debug-exceptions). False = exit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the exit path on ReadyToRun: optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool Step()
    {
        ulong startRip = _regs.Rip;
        ulong flagsBefore = _regs.Rflags;
        InterruptShadow shadowBefore = _shadow;
        ulong held = _heldDebugTraps;
        _heldDebugTraps = 0;
        if (!Execute(out _))
        {
            if (_exitPending)
            {
                // Nothing was committed: the hypervisor completes or re-executes the instruction, and the
                // debug traps a MOV SS held stay pending for the boundary after it.
                _shadow = shadowBefore;
                _heldDebugTraps = held;
                return false;
            }

            // A fault (a code breakpoint or general detect #DB too) drops the traps a MOV SS held.
            _shadow = InterruptShadow.None;
            if (_faultVector == ExceptionVector.PF)
            {
                _regs.Cr2 = _faultCr2;
            }

            return RaiseException(_faultVector, _faultError, _faultHasError, _regs.Rip, false, _faultVector == ExceptionVector.DB ? _faultDr6 : 0);
        }

        Retire(flagsBefore);
        if (_softwareInterrupt >= 0)
        {
            return DeliverSoftwareInterrupt(startRip, held);
        }

        // Every trap-class debug condition of the instruction (data and I/O breakpoints, single-step)
        // and those a MOV SS before it held become one #DB; the single-step of a MOV SS or POP SS
        // itself is suppressed, its breakpoint hits are held to the next boundary.
        ulong dr6 = _pendingBreakpointHits | held;
        if (_shadow == InterruptShadow.MovSs)
        {
            _heldDebugTraps = dr6;
            return true;
        }

        if ((flagsBefore & Rflags.TF) != 0)
        {
            dr6 |= Dr6SingleStep;
        }

        return dr6 == 0 || DeliverDebugTrap(dr6);
    }

    private bool _undefinedByModel;

    /// <summary>Decodes and executes the instruction at RIP. False = fault or exit; nothing committed.</summary>
    private bool Execute(out bool fetchFailed)
    {
        _faulted = false;
        _exitPending = false;
        _fastAccesses = 0;
        _accessSerial = 0; // numbered alike in a run and in the emulator (X86Exit.FastPathDeclined)
        _wideAccess = false;
        _softwareInterrupt = -1;
        _softwareIsIcebp = false;
        _keepRf = false;
        _undefinedByModel = false;
        _pendingBreakpointHits = 0;
        fetchFailed = false;
        if (_memory.Generation != _tlbGeneration)
        {
            FlushTlb();
        }

        if ((_regs.Dr7 & 0xFF) != 0 && (_regs.Rflags & Rflags.RF) == 0 && CheckInstructionBreakpoints())
        {
            return false;
        }

        if (!Fetch(out fetchFailed))
        {
            return false;
        }

        CountInterpreted();
        _nextRip = MaskIp(_regs.Rip + (ulong)_insn.Length);
        InterruptShadow before = _shadow;
        _shadow = InterruptShadow.None;
        Dispatch.Table[(int)_insn.Code](this, ref _insn);
        if (_faulted || _exitPending)
        {
            _shadow = before;
            return false;
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Retire(ulong flagsBefore)
    {
        _regs.Rip = _nextRip;
        if (!_keepRf)
        {
            _regs.Rflags &= ~Rflags.RF;
        }

        _regs.Rflags = (_regs.Rflags | Rflags.Fixed1) & ~0xFFFFFFFFFFC08028UL;
        InstructionsRetired++;
    }

    /// <summary>The port and size an IN/OUT/INS/OUTS instruction accesses (for I/O breakpoints).</summary>
    private bool TryGetIoAccess(ref Instruction i, out ushort port, out int size)
    {
        ushort dx = (ushort)_regs.Gpr[Gpr.Rdx];
        switch (i.Mnemonic)
        {
            case Mnemonic.In:
                port = i.Op1Kind == OpKind.Register ? dx : i.Immediate8;
                size = RegSize(i.Op0Register);
                return true;
            case Mnemonic.Out:
                port = i.Op0Kind == OpKind.Register ? dx : i.Immediate8;
                size = RegSize(i.Op1Register);
                return true;
            case Mnemonic.Insb or Mnemonic.Outsb:
                port = dx;
                size = 1;
                return true;
            case Mnemonic.Insw or Mnemonic.Outsw:
                port = dx;
                size = 2;
                return true;
            case Mnemonic.Insd or Mnemonic.Outsd:
                port = dx;
                size = 4;
                return true;
            default:
                port = 0;
                size = 0;
                return false;
        }
    }

    /// <summary>Reads the code bytes at RIP (handling a page crossing) and decodes them into <see cref="_insn"/>.</summary>
    private bool Fetch(out bool fetchFailed)
    {
        fetchFailed = false;
        ref var cs = ref _regs.Seg[SegmentIndex.Cs];
        ulong linear = _bitness == 64 ? _regs.Rip : (cs.Base + _regs.Rip) & 0xFFFFFFFF;
        if (_bitness == 64 && !IsCanonical(linear))
        {
            fetchFailed = true;
            return Fault(ExceptionVector.GP, 0, true);
        }

        int inPage = (int)(0x1000 - (linear & 0xFFF));
        byte* p = TranslateFetch(linear);
        if (p == null)
        {
            fetchFailed = true;
            return false;
        }

        if (inPage >= 16)
        {
            if (UseDecodeCache)
            {
                return FetchCached(p, linear, ref fetchFailed);
            }

            _reader.Reset(p, 15);
            var plain = CurrentDecoder();
            plain.IP = _regs.Rip;
            plain.Decode(out _insn);
            return CheckDecoded(ref fetchFailed);
        }

        {
            int available;
            Buffer.MemoryCopy(p, _fetchBuffer, 16, inPage);
            available = inPage;
            byte* q = TranslateFetch(linear + (ulong)inPage);
            bool secondFailed = q == null;
            if (!secondFailed)
            {
                Buffer.MemoryCopy(q, _fetchBuffer + inPage, 16, 15 - inPage);
                available = 15;
            }
            else
            {
                // Decode what the first page holds; the fault on the second page only counts if the
                // instruction really extends into it.
                _faulted = false;
                _exitPending = false;
            }

            _reader.Reset(_fetchBuffer, available);
            var decoder = CurrentDecoder();
            decoder.IP = _regs.Rip;
            decoder.Decode(out _insn);
            if (_insn.IsInvalid && decoder.LastError == DecoderError.NoMoreBytes && secondFailed)
            {
                fetchFailed = true;
                TranslateFetch(linear + (ulong)inPage);
                return false;
            }

            return CheckDecoded(ref fetchFailed);
        }
    }

    /// <summary>
    /// The decoded-instruction cache: direct-mapped on the linear RIP; an entry is reused only when
    /// the RIP, the mode, the host address of the code (so paging changes are seen) and the code bytes
    /// themselves (so self-modifying code is seen, without write tracking) are all unchanged. A miss
    /// decodes the 16 bytes it compared, not guest memory again: another vCPU may store into the code
    /// in between (Linux's text_poke_bp writes an INT3 over the first byte while others run it), and an
    /// entry that paired the old bytes with the new instruction would run that instruction whenever the
    /// old bytes came back (a phantom INT3 after a jump label is switched back, for example).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool FetchCached(byte* p, ulong linear, ref bool fetchFailed)
    {
        ulong b0 = Unsafe.ReadUnaligned<ulong>(p);
        ulong b1 = Unsafe.ReadUnaligned<ulong>(p + 8);
        ref var e = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_decodeCache), (int)((linear ^ (linear >> 12)) & (DecodeCacheSize - 1)));
        ulong rip = _regs.Rip;
        if (e.Host == (nint)p && e.Rip == rip && e.Bitness == _bitness
            && ((b0 ^ e.Bytes0) & e.Mask0) == 0 && ((b1 ^ e.Bytes1) & e.Mask1) == 0)
        {
            _insn = e.Insn;
            return CheckDecoded(ref fetchFailed);
        }

        return DecodeIntoCache(ref e, p, b0, b1, rip, ref fetchFailed);
    }

    /// <summary>The miss of <see cref="FetchCached"/>: decodes the bytes compared and fills the entry (kept out of the inlined hit path).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool DecodeIntoCache(ref DecodedInstruction e, byte* p, ulong b0, ulong b1, ulong rip, ref bool fetchFailed)
    {
        CodeSnapshotTaken?.Invoke();
        Unsafe.WriteUnaligned(_fetchBuffer, b0);
        Unsafe.WriteUnaligned(_fetchBuffer + 8, b1);
        _reader.Reset(_fetchBuffer, 15);
        var d = CurrentDecoder();
        d.IP = rip;
        d.Decode(out _insn);
        if (!_insn.IsInvalid)
        {
            int len = _insn.Length;
            e.Host = (nint)p;
            e.Rip = rip;
            e.Bitness = _bitness;
            e.Mask0 = len >= 8 ? ulong.MaxValue : (1UL << (len * 8)) - 1;
            e.Mask1 = len <= 8 ? 0 : len >= 16 ? ulong.MaxValue : (1UL << ((len - 8) * 8)) - 1;
            e.Bytes0 = b0 & e.Mask0;
            e.Bytes1 = b1 & e.Mask1;
            e.Insn = _insn;
        }

        return CheckDecoded(ref fetchFailed);
    }

    /// <summary>Tests: called on a decoded-instruction cache miss between the read of the code bytes and their decoding (where another vCPU's store can land).</summary>
    internal Action? CodeSnapshotTaken { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool CheckDecoded(ref bool fetchFailed)
    {
        if (_bitness != 64 && _regs.Rip + (ulong)_insn.Length - 1 > _regs.Seg[SegmentIndex.Cs].Limit)
        {
            fetchFailed = true;
            return Fault(ExceptionVector.GP, 0, true);
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Decoder CurrentDecoder() => _bitness == 64 ? _decoder64 : _bitness == 32 ? _decoder32 : _decoder16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong MaskIp(ulong ip) => _bitness == 64 ? ip : _bitness == 32 ? ip & 0xFFFFFFFF : ip & 0xFFFF;

    /// <summary>Records a fault for the current instruction; always returns false so callers can <c>return Fault(..)</c>.</summary>
    internal bool Fault(int vector, uint errorCode = 0, bool hasError = false)
    {
        _faulted = true;
        _faultVector = vector;
        _faultError = errorCode;
        _faultHasError = hasError;
        return false;
    }

    /// <summary>Raises #UD for an instruction the model does not implement (counted).</summary>
    internal void Unimplemented()
    {
        UnimplementedCount++;
        LastUnimplemented = _insn.Code;
        _undefinedByModel = true;
        Fault(ExceptionVector.UD);
    }

    /// <summary>Stops the instruction with an exit to the hypervisor; returns false.</summary>
    internal bool ExitWith(X86ExitReason reason)
    {
        _exitPending = true;
        _exit.Reason = reason;
        _exit.InstructionLength = _insn.Length;
        _exit.InstructionLengthValid = true;
        return false;
    }

    internal bool ExitUnsupported(string message)
    {
        _exitPending = true;
        _exit.Reason = X86ExitReason.Unsupported;
        _exit.Message = message;
        return false;
    }

    private void SetExceptionExit(int vector, uint error, bool hasError)
    {
        _exit.Reason = X86ExitReason.ExceptionOrNmi;
        _exit.Vector = vector;
        _exit.ErrorCode = error;
        _exit.ErrorCodeValid = hasError;
        _exit.InstructionLength = _insn.Length;
        _exit.InstructionLengthValid = true;
        _exit.Qualification = vector == ExceptionVector.PF ? _faultCr2 : vector == ExceptionVector.DB ? _faultDr6 : 0;
        _exit.GuestLinearAddress = vector == ExceptionVector.PF ? _faultCr2 : 0;
    }

    internal ref Instruction CurrentInstruction => ref _insn;

    internal ulong NextRip
    {
        get => _nextRip;
        set => _nextRip = value;
    }

    internal bool IsEmulating => _bus is not null;
}

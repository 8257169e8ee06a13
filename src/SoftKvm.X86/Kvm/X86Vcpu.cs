using System.Diagnostics;
using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// An x86 vCPU with KVM's run loop (docs/kvm-semantics.md#run-contract): the one-shot completion of the
/// previous exit (Core's template), immediate exit, then guest execution on the software CPU with the exits
/// of a VMX host: port IO (in-kernel PIO bus or an <c>Io</c> exit), EPT violations (fast MMIO, else the
/// instruction emulator, in-kernel devices or an <c>Mmio</c> exit), HLT (halt with the in-kernel irqchip, an
/// <c>Hlt</c> exit without), CPUID and MSRs answered here, #UD sent to the emulator, guest debugging. Every
/// way of skipping an instruction goes through <see cref="SkipEmulatedInstruction"/>. The CPU model owns the
/// registers; the VMM reads and writes them while the vCPU is not running.
/// </summary>
public sealed partial class X86Vcpu : Vcpu, IApicHost, IX86FastExitHost
{
    /// <summary>Instructions the CPU model runs between checks of timers, interrupts and kicks.</summary>
    private const long Budget = 20_000;

    private const int CompleteMmioRead = 1;
    private const int CompleteMmioWrite = 2;
    private const int CompleteFastPioIn = 3;
    private const int CompleteFastPioOut = 4;
    private const int CompleteEmulatedPioIn = 5;
    private const int CompleteEmulatedPioOut = 6;

    private readonly X86Vm _vm;
    private readonly X86Cpu _cpu;
    private readonly X86Irqchip? _irqchip; // the VM's, when it had one as this vCPU was created (then Apic is not null)
    private X86GuestDebugFlags _debugFlags;
    private BreakpointAddresses _debugDr;
    private ulong _debugDr7;
    private BreakpointAddresses _savedGuestDr;
    private ulong _savedGuestDr7;
    private bool _windowWaiting;
    private int _runThread;

    /// <summary>
    /// The guest state passed the VMX entry checks (<see cref="InvalidGuestState"/>) and nothing but the guest's own
    /// instructions and the hypervisor's own handling changed it since (neither makes a state VMX refuses): cleared by
    /// every register access of the VMM (<see cref="ThrowIfRunning"/>, which each of them calls), hooks' included, and
    /// by INIT and SIPI. A VMM MMIO or IO exit's next run, with no register access between, enters unchecked.
    /// </summary>
    private bool _guestStateChecked;

    /// <summary>
    /// KVM_REQ_EVENT as the run loop keeps it: INIT, SIPI and interrupt injection are evaluated at an entry only while
    /// it is set (X86Vcpu.Events.cs). Set by every event request (each producer of a deliverable interrupt makes one:
    /// the local APIC's IRR, NMI, INIT, SIPI, EOI, TPR, SVR and LINT0 writes, the PIC's output, the timers), by a MOV to
    /// CR8 or a WRMSR of IA32_APIC_BASE the guest made, by every register or state access of the VMM, and by the end of
    /// a halt; cleared only by an evaluation that found nothing to deliver (one that found something keeps it set, as
    /// KVM's injection re-requests the event while one is pending or the window is closed).
    /// </summary>
    private bool _evaluateEvents = true;
    private ulong _entryApicBase;
    private ulong _entryCr8;
    private volatile int _mpState;

    internal X86Vcpu(X86Vm vm, int id)
        : base(vm, id, X86Stat.VcpuSchema)
    {
        _vm = vm;
        _cpu = new X86Cpu(vm.Memory) { TscFrequency = vm.TscFrequency, Timestamp = vm.Clock.Timestamp };
        _cpu.Controls.InterceptCpuid = true;
        _bus = new EmulationBus(this);
        if (id != 0)
        {
            _cpu.Regs.ApicBase &= ~0x100UL; // only vCPU 0 is the bootstrap processor
        }

        if (vm.Irqchip is { } chip)
        {
            _irqchip = chip;
            Apic = chip.CreateLocalApic(this);
            UsePublishedReads(chip);
            _mpState = id == 0 ? (int)X86MpState.Runnable : (int)X86MpState.Uninitialized;
        }

        UpdateExceptionBitmap();
    }

    /// <summary>The software CPU (for the tests: the VMM uses the vCPU's register and option calls).</summary>
    internal X86Cpu Cpu => _cpu;

    /// <summary>
    /// A kick or request stops the CPU model at its next instruction, not at its budget boundary; except one the
    /// vCPU makes to itself outside guest mode (an exit handler's, a fast-path exit's), which the run loop, or the
    /// fast path, looks at before the guest runs on: a stop for it would be an exit KVM does not make.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    protected override void OnRequestMade()
    {
        if (!_guestMode && Volatile.Read(ref _runThread) == Environment.CurrentManagedThreadId)
        {
            return;
        }

        _cpu.RequestExit();
    }

    /// <summary>The in-kernel local APIC, or null without an irqchip.</summary>
    public LocalApic? Apic { get; }

    /// <summary>The multiprocessor state (<c>KVM_GET_MP_STATE</c>/<c>KVM_SET_MP_STATE</c>).</summary>
    /// <exception cref="VcpuException">set while running, or a state other than Runnable without an irqchip.</exception>
    public X86MpState MpState
    {
        get => (X86MpState)_mpState;
        set
        {
            ThrowIfRunning();
            if (Apic is null && value != X86MpState.Runnable)
            {
                throw new VcpuException($"vCPU {Id}: MP state {value} needs the in-kernel irqchip");
            }

            _mpState = (int)value;
        }
    }

    /// <summary>The current guest-debug controls.</summary>
    public X86GuestDebugFlags GuestDebug => _debugFlags;

    private bool GuestSingleStep => (_debugFlags & (X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep)) == (X86GuestDebugFlags.Enable | X86GuestDebugFlags.SingleStep);

    private bool GuestHardwareBreakpoints => (_debugFlags & (X86GuestDebugFlags.Enable | X86GuestDebugFlags.UseHardwareBreakpoints)) == (X86GuestDebugFlags.Enable | X86GuestDebugFlags.UseHardwareBreakpoints);

    private bool GuestBlocksInterrupts => (_debugFlags & (X86GuestDebugFlags.Enable | X86GuestDebugFlags.BlockInterrupts)) == (X86GuestDebugFlags.Enable | X86GuestDebugFlags.BlockInterrupts);

    private bool GuestSoftwareBreakpoints => (_debugFlags & (X86GuestDebugFlags.Enable | X86GuestDebugFlags.UseSoftwareBreakpoints)) == (X86GuestDebugFlags.Enable | X86GuestDebugFlags.UseSoftwareBreakpoints);

    /// <summary>A copy of the register file (<c>KVM_GET_REGS</c>/<c>SREGS</c>/<c>DEBUGREGS</c> in one).</summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    public X86Registers GetRegisters()
    {
        ThrowIfRunning();
        return _cpu.Regs;
    }

    /// <summary>
    /// Replaces the register file and recomputes the mode (<c>KVM_SET_REGS</c>/<c>SREGS</c>). As KVM, RFLAGS
    /// bit 1 is set, and special registers <c>kvm_is_valid_sregs</c> rejects are refused; a state that passes
    /// but that VMX would not enter fails the next entry (<c>KVM_EXIT_FAIL_ENTRY</c>).
    /// </summary>
    /// <exception cref="VcpuException">the vCPU is running; or, with -EINVAL, CR0 with bits 63:32, NW without
    /// CD or PG without PE, paging with EFER.LME but without CR4.PAE or EFER.LMA, EFER.LMA or a 64-bit CS
    /// outside that (nothing changes).</exception>
    public void SetRegisters(in X86Registers registers)
    {
        ThrowIfRunning();
        ThrowIfInvalidSregs(registers);
        _cpu.Regs = registers;
        _cpu.Regs.Rflags |= Rflags.Fixed1;
        _cpu.StateChanged();
    }

    /// <summary>
    /// <c>KVM_SET_GUEST_DEBUG</c>: single-step (a <c>Debug</c> exit after each instruction, also a
    /// skipped one, and after each event delivery, before the handler's first instruction: the VMX monitor
    /// trap flag), software breakpoints (INT3 exits) and hardware breakpoints (<paramref name="debugRegisters"/>
    /// = DR0, DR1, DR2, DR3, DR7 of the debugger, active while the guest runs, the guest's own not),
    /// and <see cref="X86GuestDebugFlags.BlockInterrupts"/>. While single-step or hardware breakpoints are on,
    /// every #DB is a <c>Debug</c> exit (the guest's own single-steps too: <see cref="ReinjectDebugException"/>
    /// gives one back to the guest).
    /// </summary>
    /// <exception cref="VcpuException">running, or hardware breakpoints without five debug register values.</exception>
    public void SetGuestDebug(X86GuestDebugFlags flags, ReadOnlySpan<ulong> debugRegisters = default)
    {
        ThrowIfRunning();
        if ((flags & X86GuestDebugFlags.UseHardwareBreakpoints) != 0)
        {
            if (debugRegisters.Length != 5)
            {
                throw new VcpuException("hardware breakpoints need DR0, DR1, DR2, DR3 and DR7");
            }

            for (int i = 0; i < 4; i++)
            {
                _debugDr[i] = debugRegisters[i];
            }

            _debugDr7 = (debugRegisters[4] & 0xFFFF2BFF) | 0x400;
        }

        _debugFlags = flags;
        UpdateExceptionBitmap();
    }

    /// <summary>
    /// Gives the exception of the last <c>Debug</c> exit to the guest, as if the debugger had not claimed it
    /// (what a VMM does with <c>KVM_SET_VCPU_EVENTS</c> for a #DB or #BP that is not its own): a #DB with the
    /// exit's DR6 conditions, or the #BP of the guest's INT3 (RIP goes past it again, the return address the
    /// guest's handler expects).
    /// </summary>
    /// <exception cref="VcpuException">running, or the last exit was not a <c>Debug</c> exit.</exception>
    public void ReinjectDebugException()
    {
        ThrowIfRunning();
        if (_lastDebugException < 0)
        {
            throw new VcpuException($"vCPU {Id}: there is no Debug exit to give back to the guest (the last exit was {RunState.ExitReason}, or it was given back already)");
        }

        if (_lastDebugException == ExceptionVector.BP)
        {
            _cpu.Regs.Rip = MaskIp(_cpu.Regs.Rip + (ulong)Math.Max(1, _lastBreakpointLength));
            _cpu.InjectException(ExceptionVector.BP, software: true);
        }
        else
        {
            _cpu.InjectException(ExceptionVector.DB, dr6: _lastDebugDr6 & 0xE00F);
        }

        _lastDebugException = -1;
    }

    /// <summary><c>KVM_TRANSLATE</c>: the guest-physical address of linear address <paramref name="linear"/> through the guest's paging; false when unmapped.</summary>
    /// <exception cref="VcpuException">running.</exception>
    public bool TranslateAddress(ulong linear, out ulong physicalAddress)
    {
        ThrowIfRunning();
        return _cpu.TryTranslate(linear, false, out physicalAddress);
    }

    // The last Debug exit, until the next Run: what ReinjectDebugException gives back.
    private int _lastDebugException = -1;
    private ulong _lastDebugDr6;
    private int _lastBreakpointLength;

    /// <summary>
    /// <c>KVM_INTERRUPT</c> (no in-kernel irqchip): raises the INTR line with <paramref name="vector"/>;
    /// the CPU takes it when RFLAGS.IF=1 and no interrupt shadow blocks it.
    /// </summary>
    /// <exception cref="VcpuException">the in-kernel irqchip exists (use its lines), or running.</exception>
    public void InjectInterrupt(int vector)
    {
        ThrowIfRunning();
        if (Apic is not null)
        {
            throw new VcpuException("KVM_INTERRUPT is for VMs without the in-kernel irqchip");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)vector, 255u, nameof(vector));
        _cpu.SetPendingInterrupt(vector);
        Stats.Increment(X86Stat.IrqInjections);
    }

    /// <summary><c>KVM_NMI</c>: queues an NMI.</summary>
    public void InjectNmi()
    {
        ThrowIfRunning();
        _cpu.SetPendingNmi();
        Stats.Increment(X86Stat.NmiInjections);
    }

    /// <summary>The linear address of the instruction pointer (CS base + RIP outside 64-bit mode).</summary>
    public ulong LinearRip
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] // twice per port IO exit (the exit's RIP and its completion's check)
        get
        {
            ref var r = ref _cpu.Regs;
            return _cpu.Bitness == 64 ? r.Rip : (r.Seg[SegmentIndex.Cs].Base + r.Rip) & 0xFFFF_FFFF;
        }
    }

    /// <inheritdoc />
    /// <remarks>RIP as the guest sees it (not CS-relative linear): enough to find the hot code of a flat guest.</remarks>
    public override ulong SampleProgramCounter() => Volatile.Read(ref _cpu.Regs.Rip);

    /// <inheritdoc />
    public override IReadOnlyList<KeyValuePair<string, long>> CpuModelCounters() =>
        [
            new("instructions", _cpu.InstructionsRetired),
            new("unimplemented", _cpu.UnimplementedCount),
            new("blocks_translated", _cpu.BlocksTranslated),
            new("blocks_shared", _cpu.BlocksShared),
            new("translation_us", (long)_cpu.TranslationTime.TotalMicroseconds),
            new("blocks_invalidated", _cpu.StaleBlocks),
            new("translation_failures", _cpu.TranslationFailures),
            new("translated_block_runs", _cpu.BlockEntries),
            new("translated_instructions", _cpu.TranslatedInstructions),
            .. _cpu.InstructionProfile(),
        ];

    /// <inheritdoc />
    protected override void OnProfilingStarted()
    {
        _cpu.ProfileInstructions();
        UsePublishedReads(null); // every exit marked as it is handled (X86Vcpu.FastPath.cs)
    }

    /// <inheritdoc />
    public override long InstructionsRetired => _cpu.InstructionsRetired;

    ulong IApicHost.ApicBaseMsr
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
        get => _cpu.Regs.ApicBase;
    }

    long IApicHost.TscFrequency => _cpu.TscFrequency;

    ulong IApicHost.ReadTsc() => _cpu.ReadTsc();

    /// <summary>Tells the vCPU that interrupt state changed (any thread): wakes it when halted and, when <paramref name="kick"/>, makes a running CPU model stop at its next instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    void IApicHost.NotifyEvent(bool kick)
    {
        MakeRequest(VcpuRequest.Event);
        if (kick && Volatile.Read(ref _runThread) != Environment.CurrentManagedThreadId)
        {
            _cpu.RequestExit();
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    protected override RunResult RunLoop()
    {
        _lastDebugException = -1;
        Volatile.Write(ref _runThread, RunningThreadId); // Run's thread, this one
        try
        {
            while (true)
            {
                int r = RunOnce();
                if (r <= 0)
                {
                    FillCommonRunState();
                    return (RunResult)r;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _runThread, 0);
        }
    }

    /// <summary>One pass of the loop: requests, events, one guest entry and its exit. 1 = go on, 0 = exit to the VMM, negative = Run's result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private int RunOnce()
    {
        if (Apic is not null)
        {
            PollTimers(); // before the requests: a timer that fires makes its event request now
        }

        if (HasEntryWork && TakeRequests() is var stop and <= 0)
        {
            return stop;
        }

        if (Apic is not null)
        {
            // KVM evaluates INIT, SIPI and injection only under KVM_REQ_EVENT (X86Vcpu.Events.cs): the re-entry after
            // a VMM exit with nothing pending skips them.
            if (_evaluateEvents)
            {
                ProcessInitSipi();
            }

            if (MpState == X86MpState.Halted && HasWakeupEvent())
            {
                _mpState = (int)X86MpState.Runnable;
                _pvUnhalted = false;
                _evaluateEvents = true;
                NoteHaltEnded();
            }

            if (MpState != X86MpState.Runnable)
            {
                Block(NextTimerDeadline());
                _evaluateEvents = true;
                return 1;
            }

            if (_evaluateEvents)
            {
                InjectPendingEvents();
            }
        }
        else
        {
            bool open = _cpu.InterruptWindowOpen && _cpu.PendingInterrupt < 0;
            if (RunState.RequestInterruptWindow && open)
            {
                Stats.Increment(X86Stat.RequestIrqExits);
                RunState.ExitReason = ExitReason.IrqWindowOpen;
                return 0;
            }

            _windowWaiting = RunState.RequestInterruptWindow && !open;
        }

        if (!_guestStateChecked)
        {
            if (InvalidGuestState() is { } invalid)
            {
                Stats.Increment(Core.Stats.VcpuStat.Exits);
                return FailEntry(invalid);
            }

            _guestStateChecked = true;
        }

        // Guest single-step runs one instruction per entry under the monitor trap flag, which also stops
        // after an event delivery (UpdateExceptionBitmap sets it).
        long budget = GuestSingleStep || _windowWaiting ? 1 : Budget;
        if (IsDeterministic)
        {
            // Blocks compiled on the vCPU's own thread, at the same entry every run (docs/snapshots.md#deterministic-execution).
            _cpu.TranslateSynchronously = true;
            if (!TryTakeQuantum(ref budget))
            {
                return (int)RunResult.Interrupted;
            }
        }

        // The slice is a time slice: a native block begun inside it may end past it (not so for a deterministic run's
        // quantum, nor for the one-instruction runs of single-step and the interrupt window).
        _cpu.ExactBudget = IsDeterministic || budget == 1;
        EndExit();
        EnterGuest();
        _guestMode = true;
        var reason = _cpu.Run(budget);
        _guestMode = false;
        LeaveGuest();
        if (reason != X86ExitReason.FastExitReturn && _cpu.Exit.FastAccesses == 0)
        {
            // (not the way back of a fast-path exit, nor the EPT exit of an instruction whose first device
            // accesses that exit counted already)
            Stats.Increment(Core.Stats.VcpuStat.Exits);
        }

        return HandleExit(reason);
    }

    /// <summary>
    /// The requests of an entry (one read of the request word decides that there are none: <see cref="Vcpu.HasEntryWork"/>):
    /// a kick or a stop ends the run (0 or negative, <see cref="RunOnce"/>'s result); a memory change flushes the TLB,
    /// new hooks are taken, an event request is counted (its injection follows at every entry). 1 = enter.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int TakeRequests()
    {
        if (TryConsumeKick())
        {
            return (int)RunResult.Interrupted;
        }

        if (TestAndClearRequest(VcpuRequest.Stop))
        {
            RunState.ExitReason = ExitReason.Intr;
            return (int)RunResult.Interrupted;
        }

        if (TestAndClearRequest(VcpuRequest.MemoryChanged | VcpuRequest.TlbFlush))
        {
            _cpu.FlushTlb();
        }

        if (TryTakeHooks(out var hooks))
        {
            _cpu.Hooks = hooks;
        }

        if (TestAndClearRequest(VcpuRequest.Event))
        {
            Stats.Increment(X86Stat.ReqEvent);
            _evaluateEvents = true;
        }

        return 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private void EnterGuest()
    {
        if (Apic is not null)
        {
            _entryCr8 = Apic.Tpr >> 4;
            _cpu.Regs.Cr8 = _entryCr8;
            _entryApicBase = _cpu.Regs.ApicBase;
        }

        if (GuestHardwareBreakpoints)
        {
            ref var r = ref _cpu.Regs;
            _savedGuestDr = r.Dr;
            _savedGuestDr7 = r.Dr7;
            r.Dr = _debugDr;
            r.Dr7 = _debugDr7;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private void LeaveGuest()
    {
        if (GuestHardwareBreakpoints)
        {
            ref var r = ref _cpu.Regs;
            r.Dr = _savedGuestDr;
            r.Dr7 = _savedGuestDr7;
        }

        if (Apic is not null)
        {
            if (_cpu.Regs.Cr8 != _entryCr8)
            {
                // A MOV to CR8 the guest made: a lower TPR may let a requested interrupt through (KVM's TPR-below-threshold
                // exit makes KVM_REQ_EVENT), a higher one needs no request but costs nothing to evaluate. (Compared with
                // CR8 at entry, not with the TPR now: a TPR the guest wrote through the APIC page during the run stands.)
                Apic.SetTprFromCr8(_cpu.Regs.Cr8);
                _evaluateEvents = true;
            }

            if (_cpu.Regs.ApicBase != _entryApicBase)
            {
                // A WRMSR of IA32_APIC_BASE the CPU model took: enabling or disabling the APIC changes what it delivers
                // (the PIC's ExtINT passes a globally disabled APIC), as kvm_lapic_set_base makes KVM_REQ_EVENT.
                _evaluateEvents = true;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private int HandleExit(X86ExitReason reason)
    {
        switch (reason)
        {
            case X86ExitReason.BudgetExhausted:
            case X86ExitReason.MonitorTrapFlag:
                return GuestSingleStep ? DebugExit(ExceptionVector.DB, Dr6SingleStep) : 1;
            case X86ExitReason.ExitRequested:
                Stats.Increment(X86Stat.IrqExits);
                return 1;
            case X86ExitReason.FastExitReturn:
                return 1;
            case X86ExitReason.Hlt:
                BeginExit(X86Stat.HaltExits);
                return HandleHalt();
            case X86ExitReason.IoInstruction:
                BeginExit(X86Stat.IoExits);
                return HandleIo();
            case X86ExitReason.EptViolation:
                BeginExit(X86Stat.InsnEmulation); // MMIO is emulated, in-kernel devices' and the VMM's alike
                return HandleEptViolation();
            case X86ExitReason.Cpuid:
                return HandleCpuid();
            case X86ExitReason.Rdmsr:
                return HandleRdmsr();
            case X86ExitReason.Wrmsr:
                return HandleWrmsr();
            case X86ExitReason.Vmcall:
                return HandleVmcall();
            case X86ExitReason.ExceptionOrNmi:
                return HandleException();
            case X86ExitReason.TripleFault:
                RunState.ExitReason = ExitReason.Shutdown;
                return 0;
            default:
                return InternalError(InternalErrorSuberror.UnexpectedExitReason,
                    _cpu.Exit.Message ?? "the CPU model returned an exit the hypervisor does not handle");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int HandleHalt()
    {
        Stats.Increment(X86Stat.HaltExits);
        int r = SkipEmulatedInstruction(InstructionLengthOrUnknown());
        if (r == 0 && RunState.ExitReason != ExitReason.Debug)
        {
            return 0; // the skip failed: its emulation-failure exit stands, RIP is unchanged
        }

        if (Apic is null)
        {
            // As KVM: the HLT exit reason wins over a single-step exit of the skip.
            RunState.ExitReason = ExitReason.Hlt;
            return 0;
        }

        _mpState = (int)X86MpState.Halted;
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int InstructionLengthOrUnknown() => _cpu.Exit.InstructionLengthValid ? _cpu.Exit.InstructionLength : 0;

    private int HandleException()
    {
        ref readonly var e = ref _cpu.Exit;
        int vector = e.Vector;
        switch (vector)
        {
            case ExceptionVector.UD:
                // KVM intercepts #UD and sends the instruction to the emulator (handle_ud, EMULTYPE_TRAP_UD),
                // which rewrites AMD's VMMCALL to VMCALL for the guest to re-execute (emulator_fix_hypercall).
                if (TryFixHypercall())
                {
                    return 1;
                }

                SkipForcedEmulationPrefix();
                return Emulate(EmulationKind.TrapUd);
            case ExceptionVector.DB:
            {
                ulong dr6 = e.Qualification;
                if (GuestSingleStep || GuestHardwareBreakpoints)
                {
                    if (!e.DebugTrap && (dr6 & 0xF) != 0)
                    {
                        // A code breakpoint is a fault: RIP is at the instruction. RF lets the next Run pass it.
                        _cpu.Regs.Rflags |= Rflags.RF;
                    }

                    return DebugExit(ExceptionVector.DB, dr6 | Dr6Fixed);
                }

                _cpu.InjectException(ExceptionVector.DB, dr6: dr6);
                return 1;
            }

            case ExceptionVector.BP:
                if (GuestSoftwareBreakpoints)
                {
                    // The CPU model retired INT3; KVM reports the #BP intercept with RIP at the INT3.
                    _lastBreakpointLength = e.InstructionLength;
                    _cpu.Regs.Rip = MaskIp(_cpu.Regs.Rip - (ulong)Math.Max(1, e.InstructionLength));
                    return DebugExit(ExceptionVector.BP, 0);
                }

                _cpu.InjectException(ExceptionVector.BP, software: true);
                return 1;
            default:
                if (vector == ExceptionVector.PF)
                {
                    _cpu.Regs.Cr2 = e.Qualification;
                }

                _cpu.InjectException(vector, e.ErrorCode, e.ErrorCodeValid);
                return 1;
        }
    }

    private int DebugExit(int exception, ulong dr6)
    {
        _lastDebugException = exception;
        _lastDebugDr6 = dr6;
        ref var d = ref RunState.Debug;
        d.Exception = (uint)exception;
        d.Pc = LinearRip;
        d.Dr6 = dr6;
        d.Dr7 = GuestHardwareBreakpoints ? _debugDr7 : _cpu.Regs.Dr7;
        RunState.ExitReason = ExitReason.Debug;
        return 0;
    }

    private int InternalError(InternalErrorSuberror suberror, string message)
    {
        ref var i = ref RunState.Internal;
        i.Suberror = suberror;
        i.NData = 1;
        i.Data[0] = LinearRip;
        i.Message = message;
        RunState.ExitReason = ExitReason.InternalError;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private void FillCommonRunState()
    {
        ref var run = ref RunState;
        run.IfFlag = (_cpu.Regs.Rflags & Rflags.IF) != 0;
        run.ReadyForInterruptInjection = _cpu.InterruptWindowOpen && _cpu.PendingInterrupt < 0;
        run.Cr8 = Apic is not null ? Apic.Tpr >> 4 : _cpu.Regs.Cr8;
        run.ApicBase = _cpu.Regs.ApicBase;
    }

    private void UpdateExceptionBitmap()
    {
        uint bitmap = 1u << ExceptionVector.UD;
        if (GuestSingleStep || GuestHardwareBreakpoints)
        {
            bitmap |= 1u << ExceptionVector.DB;
        }

        if (GuestSoftwareBreakpoints)
        {
            bitmap |= 1u << ExceptionVector.BP;
        }

        _cpu.Controls.ExceptionBitmap = bitmap;
        _cpu.Controls.MonitorTrapFlag = GuestSingleStep;
        _cpu.FastExits = (_debugFlags & X86GuestDebugFlags.Enable) != 0 ? null : this; // a debugged guest takes every exit the slow way
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong MaskIp(ulong ip) => _cpu.Bitness switch
    {
        64 => ip,
        32 => ip & 0xFFFF_FFFF,
        _ => ip & 0xFFFF,
    };

    private void ThrowIfRunning()
    {
        _guestStateChecked = false; // the caller may change the register file: the next entry checks it again
        _evaluateEvents = true;     // and what it delivers (KVM_SET_REGS/SREGS/VCPU_EVENTS/MP_STATE/GUEST_DEBUG, KVM_NMI, a snapshot make KVM_REQ_EVENT)
        if (IsRunning && Volatile.Read(ref _runThread) != Environment.CurrentManagedThreadId)
        {
            throw new VcpuException($"vCPU {Id} is running");
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    protected override bool HasWakeupEvent()
    {
        if (Apic is null)
        {
            return _cpu.HasInjectedEvent;
        }

        PollTimers();
        switch (MpState)
        {
            case X86MpState.Uninitialized:
                return Apic.HasPendingInit;
            case X86MpState.InitReceived:
                return Apic.HasPendingInit || Apic.HasPendingSipi;
            case X86MpState.Halted:
                if (_pvUnhalted)
                {
                    return true; // KVM_HC_KICK_CPU's pv_unhalted, cleared when the vCPU wakes (looking does not take it)
                }

                if (Apic.HasPendingNmi || Apic.HasPendingInit || _cpu.HasInjectedEvent)
                {
                    return true;
                }

                if ((_cpu.Regs.Rflags & Rflags.IF) == 0)
                {
                    return false;
                }

                return _cpu.PendingInterrupt >= 0 || Apic.HighestDeliverable() >= 0 || PicInterruptPending();
            default:
                return true;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every entry; NativeAOT does not inline it on its own
    private long NextTimerDeadline()
    {
        long d = Apic?.TimerDeadline ?? long.MaxValue;
        long pit = _irqchip?.Pit.NextDeadline ?? long.MaxValue;
        return Math.Min(d, pit);
    }

    /// <summary>Fires the due timers; with none armed (every entry of a guest without timers) the clock is not even read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every entry: the test inline, the work in FireTimers
    private void PollTimers()
    {
        if (NextTimerDeadline() != long.MaxValue)
        {
            FireTimers();
        }
    }

    private void FireTimers()
    {
        long now = _vm.Clock.Timestamp();
        Apic?.PollTimer(now);
        _irqchip?.PollTimers(now);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cpu.Dispose();
        }

        base.Dispose(disposing);
    }
}

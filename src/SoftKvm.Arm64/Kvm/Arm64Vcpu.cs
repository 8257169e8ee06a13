using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Pmu;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// An arm64 vCPU with KVM's run loop (docs/kvm-semantics.md#run-contract): -ENOEXEC before
/// <see cref="Init"/>, first-run init of the interrupt controller, the one-shot MMIO completion, immediate
/// exit, then guest execution with the exits of a KVM host: MMIO (in-kernel bus first, else to the VMM),
/// NISV, PSCI over HVC or SMC, WFI (sleeps until an interrupt, a timer or a kick), WFE. The software CPU it
/// drives owns the registers; the VMM reads and writes them with
/// <see cref="GetRegister"/>/<see cref="SetRegister"/> while the vCPU is not running.
/// </summary>
public sealed partial class Arm64Vcpu : Vcpu, ICpuHost
{
    /// <summary>Instructions run between checks of timers and interrupt lines.</summary>
    private const long Budget = 16_384;

    private const int PowerOff = 0;
    private const int PowerOn = 1;
    private const int PowerOnPending = 2;
    private const VcpuRequest PowerOnRequest = VcpuRequest.ArchFirst;

    private readonly Arm64Vm _vm;
    private readonly Arm64Cpu _cpu;
    private Arm64VcpuInit _init = new();
    private bool _initialized;
    private bool _firstRunDone;
    private int _power;
    private ulong _powerOnEntry;
    private ulong _powerOnContext;
    private bool _virtualTimerLevel;
    private bool _physicalTimerLevel;
    private VcpuPmu? _pmu;

    internal Arm64Vcpu(Arm64Vm vm, int id)
        : base(vm, id, Arm64Stat.VcpuSchema)
    {
        _vm = vm;
        Mpidr = Kvm.Mpidr.FromVcpuId(id);
        _cpu = new Arm64Cpu(vm.Memory, vm.Shared, this, Mpidr, vm.CpuModel);
    }

    /// <summary>MPIDR_EL1 of this vCPU, as KVM assigns it (<see cref="Kvm.Mpidr.FromVcpuId"/>).</summary>
    public ulong Mpidr { get; }

    /// <summary>Whether <see cref="Init"/> was called (KVM_ARM_VCPU_INIT).</summary>
    public bool IsInitialized => _initialized;

    /// <summary>Whether the vCPU is powered off (PSCI CPU_OFF, SYSTEM_OFF, or initialised with PowerOff and not yet started).</summary>
    public bool IsPoweredOff => Volatile.Read(ref _power) == PowerOff;

    /// <summary>The PSCI conduit chosen at <see cref="Init"/>.</summary>
    public PsciConduit PsciConduit => _init.PsciConduit;

    internal Arm64Cpu Cpu => _cpu;

    /// <summary>
    /// KVM_ARM_VCPU_INIT: resets the vCPU to KVM's reset state (EL1h, D/A/I/F masked, all registers 0,
    /// MPIDR per id) and applies the options. Drops a pending MMIO completion. May be called again to reset.
    /// </summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    public void Init(Arm64VcpuInit? options = null)
    {
        if (IsRunning)
        {
            throw new VcpuException($"vCPU {Id} is running; it can only be initialised between runs");
        }

        _init = options ?? new Arm64VcpuInit();
        _cpu.Reset();
        _cpu.PmuCounting = false;
        _cpu.SemihostingEnabled = _init.Semihosting;
        _pmu = _init.Pmu ? new VcpuPmu(_cpu, SetPmuInterruptLine) : null;
        ClearPendingCompletion();
        _mmioAborted = false;
        _mmioDeclined = false;
        Volatile.Write(ref _power, _init.PowerOff ? PowerOff : PowerOn);
        _initialized = true;
    }

    /// <summary>Reads a core register (KVM_GET_ONE_REG of KVM_REG_ARM_CORE).</summary>
    /// <exception cref="VcpuException">the vCPU is running.</exception>
    public ulong GetRegister(Arm64CoreRegister register)
    {
        ThrowIfRunning();
        ref CpuState s = ref _cpu.State;
        return register switch
        {
            >= Arm64CoreRegister.X0 and <= Arm64CoreRegister.X30 => s.X[(int)register],
            Arm64CoreRegister.Sp => s.SpEl0,
            Arm64CoreRegister.Pc => s.Pc,
            Arm64CoreRegister.Pstate => s.Pstate,
            Arm64CoreRegister.SpEl1 => s.SpEl1,
            Arm64CoreRegister.ElrEl1 => s.ElrEl1,
            Arm64CoreRegister.SpsrEl1 => s.SpsrEl1,
            _ => throw new VcpuException($"arm64 core register {(int)register} does not exist"),
        };
    }

    /// <summary>Writes a core register (KVM_SET_ONE_REG of KVM_REG_ARM_CORE).</summary>
    /// <exception cref="VcpuException">the vCPU is running, or a PSTATE whose mode M[4:0] is not EL0t, EL1t or
    /// EL1h (AArch32, EL2, EL3, reserved encodings): -EINVAL, as KVM's KVM_SET_ONE_REG refuses it; nothing changes.</exception>
    public void SetRegister(Arm64CoreRegister register, ulong value)
    {
        ThrowIfRunning();
        ref CpuState s = ref _cpu.State;
        switch (register)
        {
            case >= Arm64CoreRegister.X0 and <= Arm64CoreRegister.X30: s.X[(int)register] = value; break;
            case Arm64CoreRegister.Sp: s.SpEl0 = value; break;
            case Arm64CoreRegister.Pc: s.Pc = value; break;
            case Arm64CoreRegister.Pstate:
                if (!s.TrySetPstate(value))
                {
                    throw new VcpuException($"PSTATE 0x{value:x} has mode 0x{value & 0x1F:x}: only EL0t, EL1t and EL1h exist on this vCPU", KvmErrno.InvalidArgument);
                }

                _cpu.FlushTlb();
                _cpu.OnPstateChanged();
                break;
            case Arm64CoreRegister.SpEl1: s.SpEl1 = value; break;
            case Arm64CoreRegister.ElrEl1: s.ElrEl1 = value; break;
            case Arm64CoreRegister.SpsrEl1: s.SpsrEl1 = value; break;
            default: throw new VcpuException($"arm64 core register {(int)register} does not exist");
        }
    }

    /// <summary>Reads a system register (KVM_GET_ONE_REG of KVM_REG_ARM64_SYSREG).</summary>
    /// <exception cref="VcpuException">running, or a register the vCPU does not implement.</exception>
    public ulong GetSystemRegister(SysRegKey register)
    {
        ThrowIfRunning();
        if (!_cpu.TryReadSystemRegister(register.Value, out ulong value))
        {
            throw new VcpuException($"system register {register} is not implemented");
        }

        _cpu.TakeReevaluate();
        return value;
    }

    /// <summary>Writes a system register (KVM_SET_ONE_REG of KVM_REG_ARM64_SYSREG).</summary>
    /// <exception cref="VcpuException">running, or a register the vCPU does not implement or that is read-only.</exception>
    public void SetSystemRegister(SysRegKey register, ulong value)
    {
        ThrowIfRunning();
        if (!_cpu.TryWriteSystemRegister(register.Value, value))
        {
            throw new VcpuException($"system register {register} is not implemented or read-only");
        }

        _pmu?.Sync();
        _cpu.TakeReevaluate();
    }

    /// <summary>Reads FP/SIMD register V<paramref name="n"/> (KVM_REG_ARM_FP_REGS).</summary>
    public UInt128 GetVectorRegister(int n)
    {
        ThrowIfRunning();
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)n, 31u, nameof(n));
        return new UInt128(_cpu.State.V[(2 * n) + 1], _cpu.State.V[2 * n]);
    }

    /// <summary>Writes FP/SIMD register V<paramref name="n"/>.</summary>
    public void SetVectorRegister(int n, UInt128 value)
    {
        ThrowIfRunning();
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)n, 31u, nameof(n));
        _cpu.State.V[2 * n] = (ulong)value;
        _cpu.State.V[(2 * n) + 1] = (ulong)(value >> 64);
    }

    /// <inheritdoc />
    public override long InstructionsRetired => _cpu.RetiredNow;

    /// <inheritdoc />
    public override ulong SampleProgramCounter() => Volatile.Read(ref _cpu.State.Pc);

    /// <inheritdoc />
    public override IReadOnlyList<KeyValuePair<string, long>> CpuModelCounters()
    {
        var c = _cpu.Counters;
        return
        [
            new("instructions", _cpu.Retired),
            new("fetch_tlb_misses", c.FetchTlbMisses),
            new("decode_cache_misses", c.DecodeCacheMisses),
            new("read_slow_paths", c.ReadSlowPaths),
            new("write_slow_paths", c.WriteSlowPaths),
            new("tlb_flushes", c.TlbFlushes),
            new("blocks_translated", c.BlocksTranslated),
            new("translated_block_size", c.TranslatedBlockInstructions),
            new("translation_us", c.TranslationMicroseconds),
            new("blocks_invalidated", c.BlocksInvalidated),
            new("translation_failures", c.TranslationFailures),
            new("translated_block_runs", c.TranslatedBlocksRun),
            new("blocks_chained", c.BlocksChained),
            new("translated_instructions", c.TranslatedInstructions),
            new("undefined_instructions", _cpu.UndefinedCount),
            .. _cpu.NativeStatistics(),
        ];
    }

    /// <inheritdoc />
    protected override void OnRequestMade() => _cpu.RequestExit();

    /// <inheritdoc />
    protected override RunResult BeforeRun()
    {
        if (!_initialized)
        {
            return RunResult.NotInitialized;
        }

        if (!_firstRunDone)
        {
            var controller = _vm.InterruptController;
            if (controller is not null)
            {
                var result = controller.OnFirstRun(Id);
                if (result != RunResult.Ok)
                {
                    return result;
                }
            }

            _firstRunDone = true;
        }

        return RunResult.Ok;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    protected override RunResult RunLoop()
    {
        ref RunState run = ref RunState;
        while (true)
        {
            // One look when nothing is pending (the common re-entry after an exit); else each request in turn.
            if (HasEntryWork)
            {
                if (TryConsumeKick())
                {
                    return RunResult.Interrupted;
                }

                if (TestAndClearRequest(VcpuRequest.MemoryChanged) | TestAndClearRequest(VcpuRequest.TlbFlush))
                {
                    _cpu.FlushTlb();
                }

                if (TryTakeHooks(out var hooks))
                {
                    _cpu.Hooks = hooks;
                }

                TestAndClearRequest(VcpuRequest.Event);
                if (TestAndClearRequest(VcpuRequest.Stop))
                {
                    run.ExitReason = ExitReason.Intr;
                    return RunResult.Interrupted;
                }

                if (TestAndClearRequest(PowerOnRequest))
                {
                    ApplyPowerOn();
                    NoteHaltEnded();
                }
            }

            if (IsPoweredOff)
            {
                Block();
                continue;
            }

            if (GuestSingleStep && StepCompleted())
            {
                SingleStepExit();
                return RunResult.Ok;
            }

            // Deterministic execution: a WFI whose halt ended a turn goes on waiting in the next one.
            if (WaitsInHalt)
            {
                if (Block(NextTimerDeadline()) != HaltOutcome.Event)
                {
                    continue;
                }

                WaitsInHalt = false;
            }

            UpdateTimers();
            UpdateInterruptLines();

            // The debugger's single-step runs one instruction (or one exception entry) per entry.
            long budget = GuestSingleStep ? 1 : _pmu?.Budget(Budget) ?? Budget;
            if (IsDeterministic && !TryTakeQuantum(ref budget))
            {
                return RunResult.Interrupted;
            }

            EndExit();
            CpuExit exit = _cpu.Run(ref RequestWord, budget);
            _pmu?.Sync();

            // Every return from guest execution is an exit, whatever its reason, as on x86 (see VcpuStat).
            Stats.Increment(VcpuStat.Exits);
            Stats.Set(Arm64Stat.UndefinedInstructions, _cpu.UndefinedCount);
            switch (exit)
            {
                case CpuExit.Budget:
                case CpuExit.Request:
                case CpuExit.Reevaluate:
                    continue;
                case CpuExit.DataAbort:
                    BeginExit(Arm64Stat.MmioExitKernel); // HandleDataAbort says mmio_exit_user when it is
                    if (!HandleDataAbort(out var result))
                    {
                        return result;
                    }

                    continue;
                case CpuExit.Hvc:
                case CpuExit.Smc:
                    if (exit == CpuExit.Hvc)
                    {
                        BeginExit(Arm64Stat.HvcExitStat);
                        Stats.Increment(Arm64Stat.HvcExitStat);
                    }

                    if (!HandleHypercall(exit == CpuExit.Smc, out result))
                    {
                        return result;
                    }

                    continue;
                case CpuExit.Wfi:
                    BeginExit(Arm64Stat.WfiExitStat);
                    Stats.Increment(Arm64Stat.WfiExitStat);
                    _cpu.RetireTrappedInstruction();
                    if (!HasWakeupEvent())
                    {
                        HaltOutcome halt = Block(NextTimerDeadline());
                        WaitsInHalt = IsDeterministic && halt != HaltOutcome.Event;
                    }

                    continue;
                case CpuExit.Wfe:
                    BeginExit(Arm64Stat.WfeExitStat);
                    Stats.Increment(Arm64Stat.WfeExitStat);
                    _cpu.RetireTrappedInstruction();
                    if (IsDeterministic)
                    {
                        YieldTurn(); // another vCPU holds what this one waits for: let it run
                    }
                    else
                    {
                        Thread.Yield();
                    }

                    continue;
                case CpuExit.Debug:
                    HostDebugExit();
                    return RunResult.Ok;
                case CpuExit.Semihosting:
                    SemihostingExit();
                    return RunResult.Ok;
                default:
                    throw new InvalidOperationException($"unexpected CPU exit {exit}");
            }
        }
    }

    /// <summary>
    /// An Arm semihosting call for the VMM (docs/architecture.md#arm-semihosting): the HLT retires first, as arm64
    /// KVM advances PC before it forwards a hypercall to userspace, so the VMM's answer in X0 is all that is left.
    /// </summary>
    private void SemihostingExit()
    {
        ref RunState run = ref RunState;
        run.ExitReason = ExitReason.Hypercall;
        run.Hypercall.Nr = (uint)_cpu.X(0);
        run.Hypercall.Arg0 = _cpu.X(1);
        run.Hypercall.Flags = HypercallFlags.ArmSemihosting;
        _cpu.RetireTrappedInstruction();
    }

    /// <inheritdoc />
    protected override bool HasWakeupEvent()
    {
        if (IsPoweredOff)
        {
            return false;
        }

        UpdateTimers();
        var controller = _vm.InterruptController;
        return controller is not null && (controller.HasPendingIrq(Id) || controller.HasPendingFiq(Id));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every entry and CPU-interface access; NativeAOT does not inline it on its own
    private void UpdateInterruptLines()
    {
        var controller = _vm.InterruptController;
        if (controller is null)
        {
            _cpu.IrqLine = false;
            _cpu.FiqLine = false;
            return;
        }

        _cpu.IrqLine = controller.HasPendingIrq(Id);
        _cpu.FiqLine = controller.HasPendingFiq(Id);
    }

    /// <summary>Drives the timer outputs to the interrupt controller's PPIs (27 virtual, 30 physical).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every entry: the test inline, the work in DriveTimers
    private void UpdateTimers()
    {
        if (_cpu.AnyTimerEnabled || _virtualTimerLevel || _physicalTimerLevel)
        {
            DriveTimers(); // else both outputs low (a timer without ENABLE) and both lines low already: nothing to drive
        }
    }

    private void DriveTimers()
    {
        var controller = _vm.InterruptController;
        bool v = _cpu.TimerOutput(true, out _);
        bool p = _cpu.TimerOutput(false, out _);
        if (controller is null)
        {
            return;
        }

        if (v != _virtualTimerLevel)
        {
            _virtualTimerLevel = v;
            controller.SetPrivateLine(Id, 27, v);
        }

        if (p != _physicalTimerLevel)
        {
            _physicalTimerLevel = p;
            controller.SetPrivateLine(Id, 30, p);
        }
    }

    private long NextTimerDeadline()
    {
        _cpu.TimerOutput(true, out long dv);
        _cpu.TimerOutput(false, out long dp);
        return Math.Min(dv, dp);
    }

    // The vCPU's own thread may use the registers from inside a hook (docs/hooks.md).
    private void ThrowIfRunning()
    {
        if (IsRunningOnAnotherThread)
        {
            throw new VcpuException($"vCPU {Id} is running; its registers can only be accessed between runs");
        }
    }

    bool ICpuHost.HasPmu => _pmu is not null;

    bool ICpuHost.AccessPmuRegister(SysRegKey key, bool write, bool el0, ref ulong value) =>
        _pmu is not null && _pmu.Access(key, write, el0, ref value);

    private void SetPmuInterruptLine(bool level) => _vm.InterruptController?.SetPrivateLine(Id, VcpuPmu.OverflowIntId, level);
}

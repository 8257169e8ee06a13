using SoftKvm.Arm64.Cpu.Decoder;
namespace SoftKvm.Arm64.Cpu;

/// <summary>Exception entry and return at EL1, exception-generating instructions, and traps to the hypervisor.</summary>
public sealed partial class Arm64Cpu
{
    private const ulong VectorSync = 0x000;
    private const ulong VectorIrq = 0x080;
    private const ulong VectorFiq = 0x100;
    private const ulong MdscrSs = 1UL << 0;
    private const ulong MdscrKde = 1UL << 13;
    private const ulong MdscrMde = 1UL << 15;

    /// <summary>Takes a synchronous exception to EL1 (preferred return: the current instruction).</summary>
    internal void TakeSyncException(ulong esr, ulong far, bool farValid)
    {
        State.EsrEl1 = esr;
        if (farValid)
        {
            State.FarEl1 = far;
        }

        EnterEl1(VectorSync, State.Pc);
    }

    /// <summary>Takes the UNDEFINED exception (EC 0) for the current instruction and counts it.</summary>
    [A64Handler(A64Op.Undefined, A64Op.Sysl)]
    internal Flow Undefined()
    {
        UndefinedCount++;
        TakeSyncException(Esr.Make(Esr.EcUnknown, 0), 0, false);
        return Flow.Exception;
    }

    /// <summary>
    /// Takes the UNDEFINED exception for the instruction at PC, which trapped to the hypervisor (KVM's
    /// kvm_inject_undefined, for example for an SMC that is not the firmware conduit).
    /// </summary>
    public void InjectUndefined() => Undefined();

    /// <summary>Injects a synchronous external data abort at <paramref name="va"/> (KVM's kvm_inject_dabt).</summary>
    public void InjectExternalDataAbort(ulong va, bool write)
    {
        uint ec = State.El == 0 ? Esr.EcDabtLow : Esr.EcDabtCur;
        TakeSyncException(Esr.Make(ec, Esr.FscExternal | (write ? Esr.IssWnR : 0)), va, true);
    }

    private void TakeInterrupt(ulong vector) => EnterEl1(vector, State.Pc);

    private void EnterEl1(ulong vector, ulong returnAddress)
    {
        ulong spsr = State.Pstate;
        ulong offset = State.El == 0 ? 0x400UL : (State.SpSel ? 0x200UL : 0);
        State.SpsrEl1 = spsr;
        State.ElrEl1 = returnAddress;
        State.El = 1;
        State.SpSel = true;
        State.Daif = Psr.DaifMask;
        State.SoftwareStep = false;
        State.IllegalState = false;
        EnterEl1PstateFlags();
        State.Pc = (State.VbarEl1 & ~0x7FFUL) + offset + vector;
        ClearExclusive();
        UpdateTagEl();
        UpdateAttention();
        if (_hooks is { HasExceptionHooks: true } hooks)
        {
            HookException(hooks, vector, returnAddress);
        }
    }

    private bool DebugExceptionsEnabled()
    {
        if (State.El == 0)
        {
            return true;
        }

        return (State.MdscrEl1 & MdscrKde) != 0 && (State.Daif & Psr.D) == 0;
    }

    private void TakeSoftwareStep()
    {
        uint ec = State.El == 0 ? Esr.EcSoftStepLow : Esr.EcSoftStepCur;
        uint iss = Esr.IssIsv | (_lastWasLoadExclusive ? 1u << 6 : 0) | Esr.FscDebug;
        TakeSyncException(Esr.Make(ec, iss), 0, false);
    }

    [A64Handler(A64Op.Svc)]
    private Flow Svc(uint insn)
    {
        State.Pc += 4;
        TakeSyncExceptionAfter(Esr.Make(Esr.EcSvc64, (insn >> 5) & 0xFFFF));
        return Flow.Exception;
    }

    private void TakeSyncExceptionAfter(ulong esr)
    {
        State.EsrEl1 = esr;
        bool step = State.SoftwareStep && (State.MdscrEl1 & MdscrSs) != 0;
        EnterEl1(VectorSync, State.Pc);
        if (step)
        {
            // The exception-generating instruction completed its step: SPSR.SS = 0 (step pending on return).
            State.SpsrEl1 &= ~Psr.SS;
        }
    }

    [A64Handler(A64Op.Hvc)]
    private Flow Hvc(uint insn)
    {
        if (State.El == 0)
        {
            return Undefined();
        }

        HvcImmediate = (ushort)(insn >> 5);
        return TrapToHypervisor(CpuExit.Hvc, Esr.Make(Esr.EcHvc64, (insn >> 5) & 0xFFFF));
    }

    // Set when the hypervisor completed the last trap in place (Flow.Exception from TrapToHypervisor, not an exception
    // taken): native code's interpreter call reads and clears it (Arm64Cpu.Native.cs).
    private bool _trapCompleted;

    /// <summary>The immediate of the last HVC or SMC.</summary>
    public ushort HvcImmediate { get; private set; }

    [A64Handler(A64Op.Smc)]
    private Flow Smc(uint insn)
    {
        if (State.El == 0)
        {
            return Undefined();
        }

        HvcImmediate = (ushort)(insn >> 5);
        return TrapToHypervisor(CpuExit.Smc, Esr.Make(Esr.EcSmc64, (insn >> 5) & 0xFFFF));
    }

    /// <summary>
    /// A trap to the hypervisor: the syndrome is recorded and the trap offered to the hypervisor's fast path
    /// (<see cref="ICpuHost.TryCompleteTrap"/>); when it completes it here (the instruction retired or the
    /// PE redirected, PC set), the PE goes on as after an exception; otherwise it stops with the trap.
    /// </summary>
    private Flow TrapToHypervisor(CpuExit exit, ulong esr)
    {
        Trap.Esr = esr;
        Trap.El = State.El;
        _pendingExit = exit;
        if (!_host.TryCompleteTrap(exit))
        {
            return Flow.Trap;
        }

        _trapCompleted = true;
        return Flow.Exception;
    }

    [A64Handler(A64Op.Brk)]
    private Flow Brk(uint insn)
    {
        if (HostOwnsBrk)
        {
            return HostDebugTrap(Esr.EcBrk64, (insn >> 5) & 0xFFFF);
        }

        TakeSyncException(Esr.Make(Esr.EcBrk64, (insn >> 5) & 0xFFFF), 0, false);
        return Flow.Exception;
    }

    /// <summary>
    /// Whether HLT #0xF000 at EL1 is an Arm semihosting call (<see cref="CpuExit.Semihosting"/>), as with a
    /// debugger or QEMU's <c>-semihosting</c> catching it. Off, HLT is UNDEFINED, as on hardware without a
    /// halting debugger (EDSCR.HDE = 0); HLT at EL0 and HLT with any other immediate are UNDEFINED either way.
    /// </summary>
    public bool SemihostingEnabled { get; set; }

    /// <summary>The A64 semihosting trap's immediate (Semihosting for AArch32 and AArch64, 2.0: <c>HLT #0xF000</c>).</summary>
    public const ushort SemihostingImmediate = 0xF000;

    [A64Handler(A64Op.Hlt)]
    private Flow Hlt(uint insn)
    {
        ushort imm = (ushort)(insn >> 5);
        if (!SemihostingEnabled || State.El == 0 || imm != SemihostingImmediate)
        {
            return Undefined();
        }

        // No architectural syndrome exists for a halt caught outside Debug state: EC 0 with the immediate.
        return TrapToHypervisor(CpuExit.Semihosting, Esr.Make(Esr.EcUnknown, imm));
    }

    [A64Handler(A64Op.Eret)]
    private Flow Eret() => State.El == 0 ? Undefined() : ExceptionReturn(State.ElrEl1);

    /// <summary>The exception return of ERET (and ERETAA/ERETAB) to <paramref name="target"/>: PSTATE from SPSR_EL1.</summary>
    private Flow ExceptionReturn(ulong target)
    {
        if (!State.TrySetPstate(State.SpsrEl1))
        {
            // Illegal exception return: stay at EL1, PSTATE.IL set, PC from ELR (Arm ARM D1.10.2).
            State.IllegalState = true;
        }

        MaskPstateFlags();

        State.Pc = target;
        ClearExclusive();
        UpdateTagEl();
        UpdateAttention();
        return Flow.Exception;
    }

    [A64Handler(A64Op.Wfi)]
    private Flow Wfi()
    {
        if (State.El == 0 && (State.SctlrEl1 & SctlrNTwi) == 0)
        {
            TakeSyncException(Esr.Make(Esr.EcWfx, 0), 0, false);
            return Flow.Exception;
        }

        return TrapToHypervisor(CpuExit.Wfi, Esr.Make(Esr.EcWfx, 0));
    }

    [A64Handler(A64Op.Wfe)]
    private Flow Wfe()
    {
        if (ConsumeEvent())
        {
            return Flow.Next;
        }

        if (State.El == 0 && (State.SctlrEl1 & SctlrNTwe) == 0)
        {
            TakeSyncException(Esr.Make(Esr.EcWfx, 1), 0, false);
            return Flow.Exception;
        }

        return TrapToHypervisor(CpuExit.Wfe, Esr.Make(Esr.EcWfx, 1));
    }

    [A64Handler(A64Op.Sev)]
    private Flow Sev()
    {
        _host.SendEvent();
        return Flow.Next;
    }

    [A64Handler(A64Op.Sevl)]
    private Flow Sevl()
    {
        SignalEvent();
        return Flow.Next;
    }

    [A64Handler(A64Op.Dsb, A64Op.Dmb)]
    private Flow Barrier()
    {
        Interlocked.MemoryBarrier();
        return Flow.Next;
    }

    /// <summary>SB (FEAT_SB): nothing runs speculatively here, so it orders as a full barrier would.</summary>
    [A64Handler(A64Op.Sb)]
    private Flow SpeculationBarrier()
    {
        if (!Has(CpuFeatures.Sb))
        {
            return Undefined();
        }

        Interlocked.MemoryBarrier();
        return Flow.Next;
    }
}

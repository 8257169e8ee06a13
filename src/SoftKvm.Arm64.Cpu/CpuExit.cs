namespace SoftKvm.Arm64.Cpu;

/// <summary>Why <see cref="Arm64Cpu.Run"/> returned to the hypervisor layer (the "VM exit" of the software CPU).</summary>
public enum CpuExit
{
    /// <summary>The instruction budget ran out (the hypervisor re-checks timers and interrupts).</summary>
    Budget,

    /// <summary>The vCPU's request word became non-zero.</summary>
    Request,

    /// <summary>A stage-2 data abort: the IPA is not RAM (or a write to a read-only slot). See <see cref="Arm64Cpu.Trap"/>.</summary>
    DataAbort,

    /// <summary>HVC at EL1. PC still points at the HVC.</summary>
    Hvc,

    /// <summary>SMC at EL1 (trapped as with HCR_EL2.TSC). PC still points at the SMC.</summary>
    Smc,

    /// <summary>WFI (trapped as with HCR_EL2.TWI). PC still points at the WFI.</summary>
    Wfi,

    /// <summary>WFE with the event register clear (trapped as with HCR_EL2.TWE). PC still points at the WFE.</summary>
    Wfe,

    /// <summary>The guest wrote generic timer state (CNTP_*, CNTV_*): re-evaluate the timer outputs and interrupt lines.</summary>
    Reevaluate,

    /// <summary>
    /// A debug event the hypervisor owns (<see cref="Arm64Cpu.SetHostDebug"/>): a BRK, a host breakpoint or a host
    /// watchpoint; <see cref="Arm64Cpu.Trap"/> holds the syndrome (and FAR for a watchpoint). PC is at the instruction.
    /// </summary>
    Debug,

    /// <summary>
    /// An Arm semihosting call: HLT #0xF000 at EL1 while <see cref="Arm64Cpu.SemihostingEnabled"/> (W0 the operation,
    /// X1 its parameter). PC still points at the HLT; the hypervisor retires it once the call is done.
    /// </summary>
    Semihosting,
}

/// <summary>How an instruction handler ended.</summary>
internal enum Flow
{
    /// <summary>Retired; PC moves to the next instruction.</summary>
    Next,

    /// <summary>Retired; the handler set PC (a taken branch).</summary>
    Jump,

    /// <summary>An exception was taken in the guest (or an exception return done): PC is set, no retirement steps.</summary>
    Exception,

    /// <summary>A trap to the hypervisor: the run loop returns <see cref="Arm64Cpu.PendingExit"/>.</summary>
    Trap,
}

/// <summary>The syndrome of the last trap to the hypervisor (ESR_EL2, FAR_EL2, HPFAR_EL2 as one record).</summary>
public struct TrapInfo
{
    /// <summary>ESR_EL2-style syndrome.</summary>
    public ulong Esr;

    /// <summary>The faulting virtual address.</summary>
    public ulong Far;

    /// <summary>The faulting intermediate physical address.</summary>
    public ulong Ipa;

    /// <summary>The PSTATE.EL at the fault (for injecting an abort later).</summary>
    public int El;
}

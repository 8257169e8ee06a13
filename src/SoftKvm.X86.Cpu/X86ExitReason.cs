namespace SoftKvm.X86.Cpu;

/// <summary>
/// Why <see cref="X86Cpu.Run"/> returned: the VM exits of the software CPU, named after the VMX basic
/// exit reasons they model. Except where noted, RIP still points at the instruction that exited and
/// <see cref="X86Exit.InstructionLength"/> tells the hypervisor how far to skip.
/// </summary>
public enum X86ExitReason
{
    /// <summary>No exit (the budget is not exhausted).</summary>
    None = 0,

    /// <summary>An exception selected by <see cref="X86TrapControls.ExceptionBitmap"/> (VMX reason 0).
    /// Faults leave RIP at the instruction; trap-class exceptions (#BP, #OF, single-step #DB) have retired it.</summary>
    ExceptionOrNmi,

    /// <summary>The instruction budget given to <see cref="X86Cpu.Run"/> is used up (like the VMX preemption timer).</summary>
    BudgetExhausted,

    /// <summary><see cref="X86Cpu.RequestExit"/> was called (a kick); no instruction is half done.</summary>
    ExitRequested,

    /// <summary>HLT (VMX reason 12).</summary>
    Hlt,

    /// <summary>IN, OUT, INS or OUTS (VMX reason 30); qualification in VMX format.</summary>
    IoInstruction,

    /// <summary>A guest-physical access that no memory slot backs, for data, fetch or a page-table walk
    /// (what VMX reports as an EPT violation or, for KVM's MMIO SPTEs, an EPT misconfiguration).</summary>
    EptViolation,

    /// <summary>CPUID with <see cref="X86TrapControls.InterceptCpuid"/> (VMX reason 10).</summary>
    Cpuid,

    /// <summary>RDMSR of an MSR the model does not implement or with <see cref="X86TrapControls.InterceptMsrs"/> (VMX reason 31).</summary>
    Rdmsr,

    /// <summary>WRMSR likewise (VMX reason 32).</summary>
    Wrmsr,

    /// <summary>A triple fault: the CPU shut down (VMX reason 2). RIP is undefined.</summary>
    TripleFault,

    /// <summary>The model met something it does not implement in a way a #UD cannot express
    /// (for example a task switch); <see cref="X86Exit.Message"/> says what.</summary>
    Unsupported,

    /// <summary>
    /// <see cref="X86TrapControls.MonitorTrapFlag"/>: an event was delivered and RIP is at the first
    /// instruction of its handler, not yet executed (VMX reason 37).
    /// </summary>
    MonitorTrapFlag,

    /// <summary>Only from <see cref="X86Cpu.EmulateOne"/>: the access in <see cref="X86Exit"/> must be
    /// completed by userspace; nothing was committed; emulate again once the data is available.</summary>
    NeedsUserspace,

    /// <summary>VMCALL (VMX reason 18), at any privilege level: the hypervisor answers the hypercall and skips it.</summary>
    Vmcall,

    /// <summary>
    /// A fast-path exit (<see cref="IX86FastExitHost"/>) left the hypervisor something to look at before the next
    /// instruction (<see cref="X86Cpu.RequestFastExitReturn"/>): the instruction has retired and the exit was
    /// counted when it happened; this return is its way back to the run loop, not a new exit.
    /// </summary>
    FastExitReturn,
}

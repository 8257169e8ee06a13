namespace SoftKvm.Core.Run;

/// <summary>Why <see cref="Vcpu.Run"/> returned; the numeric values are KVM's <c>KVM_EXIT_*</c> ABI.</summary>
public enum ExitReason : uint
{
    /// <summary><c>KVM_EXIT_UNKNOWN</c>: set when the run loop starts; stays if the loop ends in an error.</summary>
    Unknown = 0,

    /// <summary><c>KVM_EXIT_EXCEPTION</c>.</summary>
    Exception = 1,

    /// <summary><c>KVM_EXIT_IO</c>: x86 port IO for the VMM; see <see cref="RunState.Io"/>.</summary>
    Io = 2,

    /// <summary><c>KVM_EXIT_HYPERCALL</c>: a call for the VMM; see <see cref="RunState.Hypercall"/> (arm64: Arm semihosting).</summary>
    Hypercall = 3,

    /// <summary><c>KVM_EXIT_DEBUG</c>: single-step or breakpoint while the VMM debugs the guest.</summary>
    Debug = 4,

    /// <summary><c>KVM_EXIT_HLT</c>: x86 HLT without an in-kernel local APIC.</summary>
    Hlt = 5,

    /// <summary><c>KVM_EXIT_MMIO</c>: an access for the VMM; see <see cref="RunState.Mmio"/>.</summary>
    Mmio = 6,

    /// <summary><c>KVM_EXIT_IRQ_WINDOW_OPEN</c>.</summary>
    IrqWindowOpen = 7,

    /// <summary><c>KVM_EXIT_SHUTDOWN</c>: x86 triple fault.</summary>
    Shutdown = 8,

    /// <summary><c>KVM_EXIT_FAIL_ENTRY</c>: the vCPU state cannot be entered.</summary>
    FailEntry = 9,

    /// <summary><c>KVM_EXIT_INTR</c>: a kick (signal) stopped the run loop.</summary>
    Intr = 10,

    /// <summary><c>KVM_EXIT_INTERNAL_ERROR</c>: for example an instruction the emulator cannot handle.</summary>
    InternalError = 17,

    /// <summary><c>KVM_EXIT_SYSTEM_EVENT</c>: PSCI SYSTEM_OFF/RESET, shutdown.</summary>
    SystemEvent = 24,

    /// <summary><c>KVM_EXIT_ARM_NISV</c>: an arm64 data abort outside memory without a valid syndrome.</summary>
    ArmNisv = 28,

    /// <summary><c>KVM_EXIT_X86_RDMSR</c> (reserved).</summary>
    X86Rdmsr = 29,

    /// <summary><c>KVM_EXIT_X86_WRMSR</c> (reserved).</summary>
    X86Wrmsr = 30,

    /// <summary><c>KVM_EXIT_MEMORY_FAULT</c> (reserved).</summary>
    MemoryFault = 39,
}

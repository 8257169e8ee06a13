using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Runner;

/// <summary>KVM's spelling of exit reasons, for traces and messages.</summary>
public static class ExitReasonNames
{
    /// <summary>The <c>KVM_EXIT_*</c> name of <paramref name="reason"/>.</summary>
    public static string Kvm(ExitReason reason) => reason switch
    {
        ExitReason.Unknown => "KVM_EXIT_UNKNOWN",
        ExitReason.Exception => "KVM_EXIT_EXCEPTION",
        ExitReason.Io => "KVM_EXIT_IO",
        ExitReason.Hypercall => "KVM_EXIT_HYPERCALL",
        ExitReason.Debug => "KVM_EXIT_DEBUG",
        ExitReason.Hlt => "KVM_EXIT_HLT",
        ExitReason.Mmio => "KVM_EXIT_MMIO",
        ExitReason.IrqWindowOpen => "KVM_EXIT_IRQ_WINDOW_OPEN",
        ExitReason.Shutdown => "KVM_EXIT_SHUTDOWN",
        ExitReason.FailEntry => "KVM_EXIT_FAIL_ENTRY",
        ExitReason.Intr => "KVM_EXIT_INTR",
        ExitReason.InternalError => "KVM_EXIT_INTERNAL_ERROR",
        ExitReason.SystemEvent => "KVM_EXIT_SYSTEM_EVENT",
        ExitReason.ArmNisv => "KVM_EXIT_ARM_NISV",
        ExitReason.X86Rdmsr => "KVM_EXIT_X86_RDMSR",
        ExitReason.X86Wrmsr => "KVM_EXIT_X86_WRMSR",
        ExitReason.MemoryFault => "KVM_EXIT_MEMORY_FAULT",
        _ => $"KVM_EXIT_{(uint)reason}",
    };
}

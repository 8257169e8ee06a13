namespace SoftKvm.Core;

/// <summary>
/// Bits of a vCPU's request word (KVM's <c>vcpu->requests</c>). A running vCPU polls the word at every
/// block boundary (one volatile read, no lock); a halted vCPU is woken when a bit is set.
/// </summary>
[Flags]
public enum VcpuRequest
{
    /// <summary>No request.</summary>
    None = 0,

    /// <summary>A kick (KVM: a signal): the run loop returns <c>KVM_EXIT_INTR</c>.</summary>
    Kick = 1 << 0,

    /// <summary>The memory slots changed: drop cached translations (KVM_REQ_MMU_RELOAD).</summary>
    MemoryChanged = 1 << 1,

    /// <summary>Interrupt state changed: re-evaluate pending interrupts (KVM_REQ_EVENT).</summary>
    Event = 1 << 2,

    /// <summary>Flush the TLB (KVM_REQ_TLB_FLUSH).</summary>
    TlbFlush = 1 << 3,

    /// <summary>The VM is shutting down: stop at the next boundary.</summary>
    Stop = 1 << 4,

    /// <summary>The VM's embedder hooks changed (<see cref="Vm.Hooks"/>): take the new set before the next instruction.</summary>
    HooksChanged = 1 << 5,

    /// <summary>The first bit free for architecture-specific requests.</summary>
    ArchFirst = 1 << 8,
}

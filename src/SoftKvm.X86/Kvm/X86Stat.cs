using SoftKvm.Core.Stats;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// The x86 vCPU statistics (docs/kvm-semantics.md#statistics), after the generic ones of
/// <see cref="VcpuStat"/>, with KVM's names. Indexes are valid for <see cref="X86Vcpu"/>'s <c>Stats</c>.
/// </summary>
public static class X86Stat
{
    /// <summary><c>io_exits</c>: IN/OUT/INS/OUTS VM exits, handled in kernel or not.</summary>
    public const int IoExits = VcpuStat.Count;

    /// <summary>
    /// <c>mmio_exits</c>: emulation passes that ended in a userspace MMIO exit
    /// (docs/kvm-semantics.md#x86-mmio-exit-statistic), never a failure or a later fragment.
    /// </summary>
    public const int MmioExits = VcpuStat.Count + 1;

    /// <summary><c>halt_exits</c>: HLT exits.</summary>
    public const int HaltExits = VcpuStat.Count + 2;

    /// <summary><c>irq_exits</c>: external-interrupt exits (a kick or an IPI made the CPU model stop).</summary>
    public const int IrqExits = VcpuStat.Count + 3;

    /// <summary><c>irq_window_exits</c>: the interrupt window opened for a pending interrupt.</summary>
    public const int IrqWindowExits = VcpuStat.Count + 4;

    /// <summary><c>request_irq_exits</c>: exits to the VMM because it asked for the interrupt window.</summary>
    public const int RequestIrqExits = VcpuStat.Count + 5;

    /// <summary><c>insn_emulation</c>: instructions sent to the emulator (re-executions after completion not counted).</summary>
    public const int InsnEmulation = VcpuStat.Count + 6;

    /// <summary><c>insn_emulation_fail</c>: emulation failures.</summary>
    public const int InsnEmulationFail = VcpuStat.Count + 7;

    /// <summary><c>irq_injections</c>: external interrupts injected.</summary>
    public const int IrqInjections = VcpuStat.Count + 8;

    /// <summary><c>nmi_injections</c>: NMIs injected.</summary>
    public const int NmiInjections = VcpuStat.Count + 9;

    /// <summary><c>req_event</c>: event-request processing passes.</summary>
    public const int ReqEvent = VcpuStat.Count + 10;

    /// <summary><c>undef_insn</c> (SoftKvm): #UD given to the guest for instructions the CPU model does not implement.</summary>
    public const int UndefinedInstructions = VcpuStat.Count + 11;

    /// <summary>The x86 descriptors, in index order.</summary>
    public static IReadOnlyList<StatDescriptor> Descriptors { get; } =
    [
        new("io_exits", Description: "IN/OUT VM exits, handled in kernel or not"),
        new("mmio_exits", Description: "emulation passes that ended in a userspace MMIO exit"),
        new("halt_exits", Description: "HLT exits"),
        new("irq_exits", Description: "external-interrupt exits"),
        new("irq_window_exits", Description: "interrupt-window exits"),
        new("request_irq_exits", Description: "exits because the VMM asked for the interrupt window"),
        new("insn_emulation", Description: "instructions sent to the emulator"),
        new("insn_emulation_fail", Description: "emulation failures"),
        new("irq_injections", Description: "external interrupts injected"),
        new("nmi_injections", Description: "NMIs injected"),
        new("req_event", Description: "event-request processing passes"),
        new("undef_insn", Description: "#UD given to the guest for instructions the CPU model does not implement"),
    ];

    /// <summary>The schema of an x86 vCPU: generic statistics, then the x86 ones.</summary>
    public static StatsSchema VcpuSchema { get; } = new(StatScope.Vcpu, VcpuStat.Descriptors, Descriptors);

    /// <summary>The schema of an x86 VM.</summary>
    public static StatsSchema VmSchema { get; } = new(StatScope.Vm, VmStat.Descriptors);
}

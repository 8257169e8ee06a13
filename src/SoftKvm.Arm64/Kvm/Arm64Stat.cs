using SoftKvm.Core.Stats;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The arm64 vCPU statistics (docs/kvm-semantics.md#statistics), after the generic ones of
/// <see cref="VcpuStat"/>, with KVM's names. Indexes are valid for <see cref="Arm64Vcpu"/>'s <c>Stats</c>.
/// </summary>
public static class Arm64Stat
{
    /// <summary><c>mmio_exit_user</c>: an MMIO data abort no in-kernel device took, exited to the VMM.</summary>
    public const int MmioExitUser = VcpuStat.Count;

    /// <summary><c>mmio_exit_kernel</c>: an MMIO data abort an in-kernel device (MMIO bus) completed.</summary>
    public const int MmioExitKernel = VcpuStat.Count + 1;

    /// <summary><c>wfe_exit_stat</c>: WFE traps.</summary>
    public const int WfeExitStat = VcpuStat.Count + 2;

    /// <summary><c>wfi_exit_stat</c>: WFI traps.</summary>
    public const int WfiExitStat = VcpuStat.Count + 3;

    /// <summary><c>hvc_exit_stat</c>: HVC traps (PSCI and other hypercalls).</summary>
    public const int HvcExitStat = VcpuStat.Count + 4;

    /// <summary><c>undef_insn</c> (SoftKvm): UNDEFINED exceptions the CPU model gave the guest for encodings it does not implement or that are unallocated.</summary>
    public const int UndefinedInstructions = VcpuStat.Count + 5;

    /// <summary>The arm64 descriptors, in index order.</summary>
    public static IReadOnlyList<StatDescriptor> Descriptors { get; } =
    [
        new("mmio_exit_user", Description: "MMIO data aborts exited to the VMM (KVM_EXIT_MMIO)"),
        new("mmio_exit_kernel", Description: "MMIO data aborts completed by an in-kernel device"),
        new("wfe_exit_stat", Description: "WFE traps"),
        new("wfi_exit_stat", Description: "WFI traps"),
        new("hvc_exit_stat", Description: "HVC traps (PSCI and other hypercalls)"),
        new("undef_insn", Description: "UNDEFINED exceptions given to the guest (unallocated or unimplemented encodings)"),
    ];

    /// <summary>The schema of an arm64 vCPU: generic statistics, then the arm64 ones.</summary>
    public static StatsSchema VcpuSchema { get; } = new(StatScope.Vcpu, VcpuStat.Descriptors, Descriptors);

    /// <summary>The schema of an arm64 VM.</summary>
    public static StatsSchema VmSchema { get; } = new(StatScope.Vm, VmStat.Descriptors);
}

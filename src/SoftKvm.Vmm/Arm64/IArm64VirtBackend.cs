using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The arm64 hypervisor layer as the <c>virt</c> machine needs it: the one seam between the VMM and
/// SoftKvm.Arm64 (Arm64Vm, Arm64Vcpu, the VGIC). Implemented where both are visible (the CLI, or an
/// adapter project), so that SoftKvm.Vmm builds without the CPU model.
/// </summary>
public interface IArm64VirtBackend
{
    /// <summary>Whether the vCPUs have a PMUv3 (KVM_ARM_VCPU_PMU_V3), which the device tree then describes.</summary>
    bool HasPmu => false;

    /// <summary>The MPIDR_EL1 vCPU <paramref name="vcpuId"/> will have (KVM's reset_mpidr).</summary>
    ulong GetMpidr(int vcpuId);

    /// <summary>The CPU models the vCPUs can implement, the default (<see cref="Arm64CpuModelInfo.DefaultName"/>) first.</summary>
    IReadOnlyList<Arm64CpuModelInfo> CpuModels { get; }

    /// <summary>
    /// Creates a VM for <paramref name="cpus"/> vCPUs of CPU model <paramref name="cpuModel"/> (one of
    /// <see cref="CpuModels"/>) with an in-kernel GIC of version <paramref name="gic"/>
    /// at the <see cref="VirtMemoryMap"/> addresses (distributor, v2 CPU interface or v3 redistributor
    /// regions), the architected timer on its PPIs, and PSCI over HVC. No memory slots, no vCPUs yet.
    /// </summary>
    Vm CreateVm(int cpus, GicVersion gic, string cpuModel);

    /// <summary>The input line of shared interrupt <paramref name="intId"/> (32..) of the VM's GIC, for a userspace device.</summary>
    IIrqLine GetSpiLine(Vm vm, int intId);

    /// <summary>
    /// Puts a created vCPU in its boot state: EL1h with DAIF masked and the MMU off, PC and x0 as given,
    /// x1..x3 zero; powered on, or off until a PSCI CPU_ON (Run then waits for it).
    /// </summary>
    void SetBootState(Vcpu vcpu, Arm64BootState state);

    /// <summary>
    /// Called once every vCPU exists and has its boot state, before any runs: finish the in-kernel
    /// devices that need the vCPUs (the VGIC's <c>KVM_DEV_ARM_VGIC_CTRL_INIT</c>: private IRQ affinity,
    /// redistributor assignment, MMIO registration).
    /// </summary>
    void CompleteSetup(Vm vm);

    /// <summary>
    /// <c>KVM_SIGNAL_MSI</c> with <c>KVM_MSI_VALID_DEVID</c>: device <paramref name="deviceId"/> writes
    /// <paramref name="data"/> to <paramref name="address"/>, which an ITS of the VM's GIC translates when it
    /// is its GITS_TRANSLATER doorbell (<see cref="MsiResult.InvalidAddress"/> when no ITS has the address,
    /// <see cref="MsiResult.NoController"/> when the GIC has no ITS).
    /// </summary>
    MsiResult SignalMsi(Vm vm, ulong address, uint data, uint deviceId) => MsiResult.NoController;

    /// <summary>A human-readable dump of the GIC state (distributor, redistributors/CPU interfaces, pending IRQs).</summary>
    string DescribeInterruptController(Vm vm);
}

/// <summary>How an arm64 vCPU starts.</summary>
/// <param name="Pc">The entry point.</param>
/// <param name="X0">x0: the device tree's address.</param>
/// <param name="PoweredOn">Whether it runs at once (vCPU 0) or waits for PSCI CPU_ON.</param>
public readonly record struct Arm64BootState(ulong Pc, ulong X0, bool PoweredOn);

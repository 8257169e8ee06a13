using SoftKvm.Arm64.Cpu;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The in-kernel interrupt controller (the VGIC) as an arm64 vCPU sees it. The controller tells a vCPU
/// that its interrupt state changed with <c>vcpu.MakeRequest(VcpuRequest.Event)</c>; the vCPU then asks
/// <see cref="HasPendingIrq"/> / <see cref="HasPendingFiq"/> at its next boundary or while halted in WFI.
/// </summary>
public interface IArm64InterruptController
{
    /// <summary>
    /// First-run checks and initialisation for <paramref name="vcpuId"/>
    /// (docs/kvm-semantics.md#gicv3-redistributor-regions: for example -ENXIO when a GICv3 vCPU has no
    /// redistributor address). Returns <see cref="RunResult.Ok"/> to go on.
    /// </summary>
    RunResult OnFirstRun(int vcpuId);

    /// <summary>Whether the CPU interface of <paramref name="vcpuId"/> signals IRQ.</summary>
    bool HasPendingIrq(int vcpuId);

    /// <summary>Whether the CPU interface of <paramref name="vcpuId"/> signals FIQ.</summary>
    bool HasPendingFiq(int vcpuId);

    /// <summary>An MRS of a GIC system register (ICC_*); false when the controller does not own that register.</summary>
    bool TryReadSystemRegister(int vcpuId, SysRegKey register, out ulong value);

    /// <summary>An MSR of a GIC system register (ICC_*); false when the controller does not own that register.</summary>
    bool TryWriteSystemRegister(int vcpuId, SysRegKey register, ulong value);

    /// <summary>Drives a private (PPI) line of <paramref name="vcpuId"/>, for example the timers (PPI 30 physical, 27 virtual).</summary>
    void SetPrivateLine(int vcpuId, int intId, bool level);
}

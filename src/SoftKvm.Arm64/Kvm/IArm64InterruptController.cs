using SoftKvm.Arm64.Cpu;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The in-kernel interrupt controller (the VGIC) as an arm64 vCPU sees it. The controller tells a vCPU
/// that its interrupt state changed with <c>vcpu.MakeRequest(VcpuRequest.Event)</c>; the vCPU then asks
/// <see cref="HasPendingIrq"/> / <see cref="HasPendingFiq"/> at its next boundary or while halted in WFI.
/// A change made by the vCPU's own system register access (<see cref="TryReadSystemRegister"/>,
/// <see cref="TryWriteSystemRegister"/>) is not notified: the vCPU asks right after the access.
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

    /// <summary>
    /// A message-signalled interrupt (<c>KVM_SIGNAL_MSI</c> with <c>KVM_MSI_VALID_DEVID</c>): device
    /// <paramref name="deviceId"/> writes <paramref name="data"/> to <paramref name="address"/>.
    /// </summary>
    Core.Io.MsiResult SignalMsi(ulong address, uint data, uint deviceId);

    /// <summary>
    /// Before a snapshot writes guest memory: puts state the controller keeps but saves in guest memory there
    /// (the VGIC's ITS tables and LPI pending tables, docs/snapshots.md).
    /// </summary>
    /// <exception cref="Core.Errors.UnsupportedException">the controller cannot be saved.</exception>
    void PrepareSave() => throw new Core.Errors.UnsupportedException($"the interrupt controller {GetType().Name} has no snapshot support");

    /// <summary>Writes the controller's state into a snapshot (after guest memory).</summary>
    /// <exception cref="Core.Errors.UnsupportedException">the controller cannot be saved.</exception>
    void SaveState(BinaryWriter writer) => throw new Core.Errors.UnsupportedException($"the interrupt controller {GetType().Name} has no snapshot support");

    /// <summary>Reads what <see cref="SaveState"/> wrote into a controller of the same shape (guest memory is restored already).</summary>
    /// <exception cref="Core.Snapshots.SnapshotFormatException">the state does not fit this controller.</exception>
    void LoadState(BinaryReader reader) => throw new Core.Errors.UnsupportedException($"the interrupt controller {GetType().Name} has no snapshot support");

    /// <summary>
    /// The address of vCPU <paramref name="vcpuId"/>'s EOI slot, through which native code completes an EOI the controller
    /// armed (the in-kernel GICv3: Vgic.NativeEoi.cs); null, the default, when the controller has none for that vCPU.
    /// </summary>
    unsafe ulong* NativeEoiSlot(int vcpuId) => null;
}

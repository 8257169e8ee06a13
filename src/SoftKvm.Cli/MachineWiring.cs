using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.X86;

namespace SoftKvm.Cli;

/// <summary>
/// The machines <c>softkvm run --arch</c> offers. This is the one place that plugs the CPU models in:
/// the arm64 virt machine takes an <see cref="IArm64VirtBackend"/> over SoftKvm.Arm64 (Arm64Vm, Arm64Vcpu,
/// VGIC: <see cref="Arm64VirtBackend"/>) and the x86 PC (<see cref="PcMachineBuilder"/>: Multiboot v1
/// kernels over SoftKvm.X86's X86Vm with the in-kernel irqchip).
/// </summary>
internal static class MachineWiring
{
    /// <summary>The catalog the real program uses.</summary>
    public static MachineCatalog Default() => new(
        new Arm64VirtMachineBuilder(new Arm64VirtBackend()),
        new PcMachineBuilder());
}

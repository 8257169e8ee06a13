using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Cli;

/// <summary>
/// The machines <c>softkvm run --arch</c> offers. This is the one place that plugs the CPU models in:
/// the arm64 virt machine takes an <see cref="IArm64VirtBackend"/> over SoftKvm.Arm64 (Arm64Vm, Arm64Vcpu,
/// VGIC: <see cref="Arm64VirtBackend"/>) and the x86 PC an <see cref="IMachineBuilder"/> over SoftKvm.X86;
/// until that one is wired, running it fails with a one-line "not available" error (exit code 2), while
/// every input check still runs.
/// </summary>
internal static class MachineWiring
{
    /// <summary>The catalog the real program uses.</summary>
    public static MachineCatalog Default() => new(
        new Arm64VirtMachineBuilder(new Arm64VirtBackend()),
        new UnavailableMachineBuilder("x86_64", "the x86 PC machine is not wired in yet"));
}

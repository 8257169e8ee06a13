using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// The VMM's handler of <c>KVM_EXIT_HYPERCALL</c> (<see cref="RunnerOptions.Hypercalls"/>): on arm64 the Arm
/// semihosting calls (<c>SoftKvm.Vmm.Arm64.Semihosting</c>). Called on the vCPU's thread between runs, so it may
/// read and write the vCPU's registers and, through its MMU, guest memory.
/// </summary>
public interface IHypercallHandler
{
    /// <summary>
    /// Handles <paramref name="exit"/> of <paramref name="vcpu"/>; returns whether the vCPU goes on running. A call
    /// that ends the run stops it through <paramref name="runner"/> (<see cref="VmRunner.RequestStop"/>) and returns
    /// false. <paramref name="stopping"/> is cancelled when the run stops: a call that waits (for console input) ends then.
    /// </summary>
    bool OnHypercall(Vcpu vcpu, in HypercallExit exit, VmRunner runner, CancellationToken stopping);
}

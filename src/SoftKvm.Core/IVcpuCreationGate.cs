namespace SoftKvm.Core;

/// <summary>
/// An in-kernel device with a say in vCPU creation, as KVM's in-kernel GIC has through
/// <c>kvm->max_vcpus</c> (set when the GIC is created) and <c>kvm_arch_vcpu_precreate</c>:
/// <see cref="Vm.CreateVcpu"/> asks it before it creates a vCPU.
/// </summary>
public interface IVcpuCreationGate
{
    /// <summary>
    /// Throws a <see cref="Errors.VcpuException"/> carrying KVM's errno when vCPU <paramref name="id"/> may
    /// not be created now (called under the VM's vCPU lock; must not create vCPUs).
    /// </summary>
    void CheckVcpuCreation(int id);
}

using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.Arm64;

/// <summary>An arm64 virt machine with its images read and placed (none, with a null plan: a machine for a snapshot to restore into).</summary>
internal sealed class PreparedArm64Virt(
    MachineConfig config, KernelImage? kernel, byte[] initrd, Arm64BootPlan? plan, byte[]? deviceTree, IArm64VirtBackend? backend) : IPreparedMachine
{
    public byte[]? DeviceTree => deviceTree;

    public Arm64BootPlan? Plan => plan;

    public IMachine Create(MachineIo io)
    {
        ArgumentNullException.ThrowIfNull(io);
        if (backend is null)
        {
            throw new MachineUnavailableException("the arm64 virt machine is not available in this build: no arm64 vCPU backend is wired in");
        }

        return new Arm64VirtMachine(config, kernel, initrd, plan, deviceTree, backend, io);
    }
}

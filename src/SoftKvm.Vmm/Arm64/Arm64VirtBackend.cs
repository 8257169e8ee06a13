using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;
using SoftKvm.Vmm.Errors;
using static SoftKvm.Vmm.Arm64.VirtMemoryMap;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The real arm64 backend of the <c>virt</c> machine: an <see cref="Arm64Vm"/> with an in-kernel
/// <see cref="Vgic"/> at QEMU virt's addresses (GICv2: distributor and CPU interface; GICv3: distributor
/// and the redistributor regions of <see cref="VirtMemoryMap.RedistributorRegions"/>, and an ITS at
/// <see cref="VirtMemoryMap.GicItsBase"/> as QEMU's virt has by default), a PMUv3 in every vCPU, PSCI over HVC.
/// </summary>
public sealed class Arm64VirtBackend : IArm64VirtBackend
{
    /// <inheritdoc />
    public bool HasPmu => true;

    /// <inheritdoc />
    public ulong GetMpidr(int vcpuId) => Mpidr.FromVcpuId(vcpuId);

    /// <inheritdoc />
    public IReadOnlyList<Arm64CpuModelInfo> CpuModels { get; } =
        [.. Arm64Vm.CpuModelList.Select(m => new Arm64CpuModelInfo(m.Name, m.Description, m.Options))];

    /// <inheritdoc />
    public Vm CreateVm(int cpus, GicVersion gic, string cpuModel)
    {
        var vm = new Arm64Vm();
        try
        {
            vm.SetCpuModel(cpuModel);
            var vgic = new Vgic(vm, gic == GicVersion.V2 ? GicModel.V2 : GicModel.V3, cpus);
            if (gic == GicVersion.V2)
            {
                vgic.SetDistributorBase(GicDistributorBase);
                vgic.SetCpuInterfaceBase(GicCpuInterfaceBase);
            }
            else
            {
                vgic.SetDistributorBase(GicDistributorBase);
                var regions = RedistributorRegions(cpus);
                for (int i = 0; i < regions.Count; i++)
                {
                    vgic.AddRedistributorRegion(i, regions[i].Base, regions[i].Count);
                }

                vgic.CreateIts().SetBaseAddress(GicItsBase);
            }

            vm.InterruptController = vgic;
            return vm;
        }
        catch (Exception e) when (e is VgicException or VcpuException)
        {
            vm.Dispose();
            throw new ConfigurationException(e.Message);
        }
    }

    /// <inheritdoc />
    public IIrqLine GetSpiLine(Vm vm, int intId) => Gic(vm).GetSpiLine(intId - Vgic.NrPrivateIrqs);

    /// <inheritdoc />
    public void SetBootState(Vcpu vcpu, Arm64BootState state)
    {
        var cpu = (Arm64Vcpu)vcpu;
        cpu.Init(new Arm64VcpuInit { PowerOff = !state.PoweredOn, PsciConduit = PsciConduit.Hvc, Pmu = true, Semihosting = state.Semihosting });
        if (state.PoweredOn)
        {
            cpu.SetRegister(Arm64CoreRegister.Pc, state.Pc);
            cpu.SetRegister(Arm64CoreRegister.X0, state.X0);
        }
    }

    /// <inheritdoc />
    public void CompleteSetup(Vm vm)
    {
        try
        {
            Gic(vm).Init();
        }
        catch (VgicException e)
        {
            throw new ConfigurationException(e.Message);
        }
    }

    /// <inheritdoc />
    public MsiResult SignalMsi(Vm vm, ulong address, uint data, uint deviceId) => ((Arm64Vm)vm).SignalMsi(address, data, deviceId);

    /// <inheritdoc />
    public string DescribeInterruptController(Vm vm) => Gic(vm).DumpState();

    private static Vgic Gic(Vm vm) =>
        ((Arm64Vm)vm).InterruptController as Vgic ?? throw new InvalidOperationException("the VM has no VGIC");
}

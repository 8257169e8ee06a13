using SoftKvm.Arm64.Vgic;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class VgicCreationTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(-1)]
    public void UnknownModelIsRefusedWithATypedOneLineError(int model)
    {
        using var vm = TestVm.WithVcpus(2);
        var e = Assert.Throws<VgicException>(() => new VgicDevice(vm, (GicModel)model, 2));
        Assert.IsAssignableFrom<SoftKvmException>(e);
        Assert.Contains("unknown GIC model", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void GicV2WithNineVcpusIsRefused()
    {
        using var vm = TestVm.WithVcpus(9);
        var e = Assert.Throws<VgicException>(() => new VgicDevice(vm, GicModel.V2, 9));
        Assert.Contains("at most 8 vCPUs", e.Message);
        Assert.Contains("the VM has 9", Assert.Throws<VgicException>(() => new VgicDevice(vm, GicModel.V2, 8)).Message);
    }

    [Fact]
    public void VcpuTheGicV2CannotTargetIsRefusedAtCreationWithEinval()
    {
        // KVM: creating the GICv2 sets kvm->max_vcpus to 8; KVM_CREATE_VCPU with id 8 is -EINVAL
        // (kvm_arch_vcpu_precreate), so no vCPU is ever accepted and then failed with -ENXIO at first run.
        using var vm = new TestVm(16);
        _ = new VgicDevice(vm, GicModel.V2, 8);
        for (int i = 0; i < 8; i++)
        {
            vm.CreateVcpu(i);
        }

        var e = Assert.Throws<VcpuException>(() => vm.CreateVcpu(8));
        Assert.Equal(KvmErrno.InvalidArgument, e.Errno);
        Assert.Contains("GICv2", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(8, vm.Vcpus.Count);
    }

    [Fact]
    public void VcpuBeyondTheCountTheGicWasCreatedForIsRefusedWithEinval()
    {
        using var vm = new TestVm(16);
        _ = new VgicDevice(vm, GicModel.V3, 2);
        vm.CreateVcpu(0);
        vm.CreateVcpu(1);
        Assert.Equal(KvmErrno.InvalidArgument, Assert.Throws<VcpuException>(() => vm.CreateVcpu(2)).Errno);
    }

    [Fact]
    public void VcpuCreatedAfterTheGicIsInitialisedIsRefusedWithEbusy()
    {
        using var vm = new TestVm(8);
        var gic = new VgicDevice(vm, GicModel.V2, 2);
        gic.SetDistributorBase(Gic.V2Dist);
        gic.SetCpuInterfaceBase(Gic.V2Cpu);
        vm.CreateVcpu(0);
        vm.CreateVcpu(1);
        gic.Init();
        var e = Assert.Throws<VcpuException>(() => vm.CreateVcpu(1));
        Assert.Equal(KvmErrno.Busy, e.Errno);                                    // KVM checks "initialised" first
    }

    [Fact]
    public void GicCreationErrorsCarryKvmsErrno()
    {
        using var vm = TestVm.WithVcpus(9);
        Assert.Equal(KvmErrno.TooBig, Assert.Throws<VgicException>(() => new VgicDevice(vm, GicModel.V2, 9)).Errno);
        using var vm2 = TestVm.WithVcpus(2);
        _ = new VgicDevice(vm2, GicModel.V3, 2);
        var e = Assert.Throws<VgicException>(() => new VgicDevice(vm2, GicModel.V3, 2));  // one in-kernel GIC per VM
        Assert.Equal(KvmErrno.Exists, e.Errno);
    }

    [Fact]
    public void GicV3With513VcpusIsRefusedAnd512Accepted()
    {
        using var vm = new TestVm(600);
        Assert.Throws<VgicException>(() => new VgicDevice(vm, GicModel.V3, 513));
        var gic = new VgicDevice(vm, GicModel.V3, 512);
        Assert.Equal(512, gic.VcpuCount);
    }

    [Fact]
    public void BadSpiCountIsRefused()
    {
        using var vm = TestVm.WithVcpus(1);
        Assert.Throws<VgicException>(() => new VgicDevice(vm, GicModel.V3, 1, 33));
        Assert.Throws<VgicException>(() => new VgicDevice(vm, GicModel.V3, 1, 1024));
    }

    [Fact]
    public void InitWithMissingVcpusIsRefusedAndLeavesNothingRegistered()
    {
        using var vm = TestVm.WithVcpus(3, maxVcpus: 4);
        var gic = new VgicDevice(vm, GicModel.V3, 4);
        gic.SetRedistributorBase(Gic.V3Redist);
        gic.SetDistributorBase(Gic.V3Dist);
        var e = Assert.Throws<VgicException>(gic.Init);
        Assert.Contains("vCPUs 0..3", e.Message);
        Assert.False(gic.IsInitialized);
        Assert.Equal(0, vm.MmioBus.Count);
        vm.CreateVcpu(3);
        gic.Init();
        Assert.True(gic.IsInitialized);
        Assert.Equal(5, vm.MmioBus.Count);
    }

    [Fact]
    public void InitWithoutAddressesIsRefused()
    {
        using var vm = TestVm.WithVcpus(2);
        var v3 = new VgicDevice(vm, GicModel.V3, 2);
        Assert.Contains("distributor address", Assert.Throws<VgicException>(v3.Init).Message);
        v3.SetDistributorBase(Gic.V3Dist);
        Assert.Contains("no redistributor", Assert.Throws<VgicException>(v3.Init).Message);

        using var vm2 = TestVm.WithVcpus(2);
        var v2 = new VgicDevice(vm2, GicModel.V2, 2);
        v2.SetDistributorBase(Gic.V2Dist);
        Assert.Contains("CPU interface address", Assert.Throws<VgicException>(v2.Init).Message);
    }

    [Fact]
    public void FirstRunInitialisesLazilyOrReportsNoDevice()
    {
        using var vm = TestVm.WithVcpus(2);
        var gic = new VgicDevice(vm, GicModel.V2, 2);
        Assert.Equal(RunResult.NoDevice, gic.OnFirstRun(0));
        gic.SetDistributorBase(Gic.V2Dist);
        gic.SetCpuInterfaceBase(Gic.V2Cpu);
        Assert.Equal(RunResult.Ok, gic.OnFirstRun(0));
        Assert.True(gic.IsInitialized);
        Assert.Equal(RunResult.NoDevice, gic.OnFirstRun(2));
    }

    [Fact]
    public void InitTwiceDoesNothingTheSecondTime()
    {
        var (vm, gic) = Gic.V3(4);
        using var _ = vm;
        gic.Init();
        Assert.Equal(5, vm.MmioBus.Count);
    }

    [Fact]
    public void AddressRulesFollowKvm()
    {
        using var vm = TestVm.WithVcpus(4);
        var gic = new VgicDevice(vm, GicModel.V3, 4);
        Assert.Throws<VgicException>(() => gic.SetAddress(VgicAddressType.V2Distributor, 0x1000));
        Assert.Throws<VgicException>(() => gic.SetAddress(VgicAddressType.V3Distributor, 0x0800_1000)); // not 64 KiB aligned
        Assert.Contains("ITS", Assert.Throws<VgicException>(() => gic.SetAddress(VgicAddressType.Its, 0x0808_0000)).Message);
        gic.SetAddress(VgicAddressType.V3Distributor, Gic.V3Dist);
        Assert.Contains("already set", Assert.Throws<VgicException>(() => gic.SetDistributorBase(0x0900_0000)).Message);
        Assert.Contains("out of order", Assert.Throws<VgicException>(() => gic.AddRedistributorRegion(1, Gic.V3Redist, 2)).Message);
        Assert.Contains("overlaps", Assert.Throws<VgicException>(() => gic.AddRedistributorRegion(0, Gic.V3Dist, 2)).Message);
        Assert.Throws<VgicException>(() => gic.SetAddress(VgicAddressType.V3RedistributorRegion, Gic.V3Redist | (1UL << 12) | (2UL << 52)));

        // count [63:52], base [51:16], flags [15:12], index [11:0]
        gic.SetAddress(VgicAddressType.V3RedistributorRegion, (2UL << 52) | Gic.V3Redist | 0);
        Assert.Equal(new RedistributorRegion(0, Gic.V3Redist, 2, false), gic.RedistributorRegions[0]);
        Assert.Contains("overlaps", Assert.Throws<VgicException>(() => gic.AddRedistributorRegion(1, Gic.V3Redist + 0x20000, 2)).Message);
        Assert.Contains("mixed", Assert.Throws<VgicException>(() => gic.SetRedistributorBase(0x1000_0000)).Message);
        gic.AddRedistributorRegion(1, Gic.V3Redist + 0x40000, 2);
        gic.Init();
        Assert.Throws<VgicException>(() => gic.AddRedistributorRegion(2, 0x2000_0000, 1));
    }

    [Fact]
    public void TooFewRedistributorSlotsIsRefusedAtInit()
    {
        using var vm = TestVm.WithVcpus(4);
        var gic = new VgicDevice(vm, GicModel.V3, 4);
        gic.SetDistributorBase(Gic.V3Dist);
        gic.AddRedistributorRegion(0, Gic.V3Redist, 3);
        Assert.Contains("vCPU 3 has no redistributor", Assert.Throws<VgicException>(gic.Init).Message);
        Assert.False(gic.IsInitialized);
    }

    [Fact]
    public void AFailedRegistrationLeavesNoPartialDevices()
    {
        using var vm = TestVm.WithVcpus(8);
        var blocker = new BlockingDevice();
        vm.MmioBus.Register(Gic.V3Redist + 5 * VgicDevice.RedistributorSize + 0x10000, 0x1000, blocker);
        var gic = new VgicDevice(vm, GicModel.V3, 8);
        gic.SetDistributorBase(Gic.V3Dist);
        gic.SetRedistributorBase(Gic.V3Redist);
        var e = Assert.Throws<VgicException>(gic.Init);
        Assert.Contains("overlaps", e.Message);
        Assert.False(gic.IsInitialized);
        Assert.Equal(1, vm.MmioBus.Count);
        Assert.Empty(gic.Devices);
    }

    private sealed class BlockingDevice : SoftKvm.Core.Io.IIoDevice
    {
        public void Read(SoftKvm.Core.Vcpu? vcpu, ulong offset, Span<byte> data) => data.Fill(0xee);

        public void Write(SoftKvm.Core.Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}

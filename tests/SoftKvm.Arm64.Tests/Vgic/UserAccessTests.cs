using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class UserAccessTests
{
    [Fact]
    public void RedistributorOffset0x10100ReachesIsenabler0()
    {
        var (vm, gic) = Gic.V3(4);
        using var _ = vm;
        Assert.True(gic.HasDeviceRegister(VgicRegisterGroup.Redistributor, 0x10100));
        Assert.Equal(0xffffu, gic.ReadDeviceRegister(VgicRegisterGroup.Redistributor, 2, 0x10100));
        gic.WriteDeviceRegister(VgicRegisterGroup.Redistributor, 2, 0x10100, 1u << 27);
        Assert.True(gic.GetIrqInfo(2, 27).Enabled);
        Assert.False(gic.GetIrqInfo(1, 27).Enabled);
        Assert.Equal(2u << 8, gic.ReadDeviceRegister(VgicRegisterGroup.Redistributor, 2, 0x8) & 0xffff00);
    }

    [Fact]
    public void OffsetsOutsideTheTableAreRefused()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        Assert.False(gic.HasDeviceRegister(VgicRegisterGroup.Redistributor, 0x5000));
        Assert.False(gic.HasDeviceRegister(VgicRegisterGroup.Distributor, 0x5000));
        Assert.True(gic.HasDeviceRegister(VgicRegisterGroup.Distributor, 0x6100));
        Assert.Throws<VgicException>(() => gic.ReadDeviceRegister(VgicRegisterGroup.Redistributor, 0, 0x5000));
        Assert.Throws<VgicException>(() => gic.ReadDeviceRegister(VgicRegisterGroup.Redistributor, 2, 0x10100));

        var (vm2, v2) = Gic.V2(2);
        using var b = vm2;
        Assert.False(v2.HasDeviceRegister(VgicRegisterGroup.Redistributor, 0x10100));
        Assert.Equal(0x02020202u, v2.ReadDeviceRegister(VgicRegisterGroup.Distributor, 1, 0x800));
    }

    [Fact]
    public void AccessBeforeInitIsRefused()
    {
        using var vm = TestVm.WithVcpus(1);
        var gic = new SoftKvm.Arm64.Vgic.Vgic(vm, GicModel.V3, 1);
        Assert.Contains("before init", Assert.Throws<VgicException>(() => gic.ReadDeviceRegister(VgicRegisterGroup.Distributor, 0, 0)).Message);
    }
}

using SoftKvm.Arm64.Vgic;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class SgiTests
{
    private static ulong Sgi1r(int intId, ulong aff1 = 0, ulong targetList = 0, ulong aff2 = 0, ulong aff3 = 0, bool irm = false, ulong rs = 0) =>
        targetList | aff1 << 16 | (ulong)intId << 24 | aff2 << 32 | (irm ? 1UL << 40 : 0) | rs << 44 | aff3 << 48;

    private static int[] PendingOn(VgicDevice gic, int intId) =>
        [.. Enumerable.Range(0, gic.VcpuCount).Where(v => gic.GetIrqInfo(v, intId).Pending)];

    [Fact]
    public void Sgi1rBroadcastReachesEveryVcpuButTheSender()
    {
        var (vm, gic) = Gic.V3(512);
        using var _ = vm;
        Gic.SysWrite(gic, 77, IccRegisters.Sgi1r, Sgi1r(5, irm: true));
        Assert.Equal(Enumerable.Range(0, 512).Where(v => v != 77), PendingOn(gic, 5));
    }

    [Fact]
    public void Sgi1rTargetListsUseAff1Aff2Aff3()
    {
        var (vm, gic) = Gic.V3(512);
        using var _ = vm;
        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(2, aff1: 1, targetList: 1 << 2 | 1 << 15));
        Assert.Equal([18, 31], PendingOn(gic, 2));

        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(3, aff1: 0x12, targetList: 1 << 0xc)); // vCPU 300 = 0x12C
        Assert.Equal([300], PendingOn(gic, 3));

        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(3, aff1: 0x1f, targetList: 0xffff));   // vCPUs 496..511
        Assert.Equal([300, .. Enumerable.Range(496, 16)], PendingOn(gic, 3));

        // vacant targets are ignored: Aff2, Aff3 or RS name no vCPU of KVM's layout below 4096
        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(4, aff1: 0, targetList: 1, aff2: 1));
        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(4, aff1: 0, targetList: 1, aff3: 1));
        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(4, aff1: 0, targetList: 1, rs: 1));
        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(4, aff1: 0x20, targetList: 0xffff));   // past vCPU 511
        Assert.Empty(PendingOn(gic, 4));
    }

    [Fact]
    public void Sgi0rOnlyReachesGroup0SgisAndAsgi1rActsAsSgi1r()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        Gic.SysWrite(gic, 0, IccRegisters.Sgi0r, Sgi1r(6, targetList: 2));
        Assert.Empty(PendingOn(gic, 6));
        Gic.Write32(vm, 0, gic.GetRedistributorBase(1)!.Value + 0x10080, ~(1u << 6));
        Gic.SysWrite(gic, 0, IccRegisters.Sgi0r, Sgi1r(6, targetList: 2));
        Assert.Equal([1], PendingOn(gic, 6));
        Gic.SysWrite(gic, 1, IccRegisters.Asgi1r, Sgi1r(7, targetList: 1));
        Assert.Equal([0], PendingOn(gic, 7));
    }

    [Fact]
    public void SgiDeliveryRoundTripOnGicV3()
    {
        var (vm, gic) = Gic.V3(4);
        using var _ = vm;
        Gic.EnableV3Cpu(gic, vm, 2);
        vm.Cpu(2).TakeEvent();
        Gic.SysWrite(gic, 0, IccRegisters.Sgi1r, Sgi1r(9, targetList: 1 << 2));
        Assert.True(gic.HasPendingIrq(2));
        Assert.False(gic.HasPendingFiq(2));
        Assert.True(vm.Cpu(2).TakeEvent());
        Assert.Equal(9UL, Gic.SysRead(gic, 2, IccRegisters.Hppir1));
        Assert.Equal(9UL, Gic.SysRead(gic, 2, IccRegisters.Iar1));
        Assert.True(gic.GetIrqInfo(2, 9).Active);
        Assert.False(gic.HasPendingIrq(2));
        Assert.Equal(0UL, Gic.SysRead(gic, 2, IccRegisters.Rpr));
        Assert.Equal(1023UL, Gic.SysRead(gic, 2, IccRegisters.Iar1));
        Gic.SysWrite(gic, 2, IccRegisters.Eoir1, 9);
        Assert.False(gic.GetIrqInfo(2, 9).Active);
        Assert.Equal(0xffUL, Gic.SysRead(gic, 2, IccRegisters.Rpr));
    }

    [Fact]
    public void GicdSgirTargetFilters()
    {
        var (vm, gic) = Gic.V2(4);
        using var _ = vm;
        const ulong sgir = Gic.V2Dist + 0xf00;
        Gic.Write32(vm, 0, sgir, 0x00_06_0001);                           // list: CPUs 1 and 2
        Assert.Equal([1, 2], PendingOn(gic, 1));
        Assert.Equal(0x01, gic.GetIrqInfo(1, 1).SgiSources);

        Gic.Write32(vm, 2, sgir, 0x01_00_0002);                           // all but self
        Assert.Equal([0, 1, 3], PendingOn(gic, 2));
        Assert.Equal(0x04, gic.GetIrqInfo(3, 2).SgiSources);

        Gic.Write32(vm, 3, sgir, 0x02_00_0003);                           // self only
        Assert.Equal([3], PendingOn(gic, 3));

        Gic.Write32(vm, 3, sgir, 0x03_0f_0004);                           // reserved filter
        Gic.Write32(vm, 0, sgir, 0x00_f0_0004);                           // CPUs 4..7 do not exist
        Assert.Empty(PendingOn(gic, 4));
        Assert.Equal(0u, Gic.Read32(vm, 0, sgir));                        // write-only
    }

    [Fact]
    public void GicV2SgiSourcesAreAcknowledgedOneByOne()
    {
        var (vm, gic) = Gic.V2(4);
        using var _ = vm;
        Gic.Write32(vm, 0, Gic.V2Dist, 1);                                // EnableGrp0
        Gic.Write32(vm, 3, Gic.V2Cpu + 0x0, 1);                           // GICC_CTLR.EnableGrp0
        Gic.Write32(vm, 3, Gic.V2Cpu + 0x4, 0xff);                        // GICC_PMR
        Gic.Write32(vm, 1, Gic.V2Dist + 0xf00, 0x00_08_0005);
        Gic.Write32(vm, 2, Gic.V2Dist + 0xf00, 0x00_08_0005);
        Assert.Equal(0x06u << 8, Gic.Read32(vm, 3, Gic.V2Dist + 0xf20 + 4)); // GICD_SPENDSGIR1 byte 1 = SGI 5
        Assert.True(gic.HasPendingIrq(3));

        Assert.Equal(5u | 1u << 10, Gic.Read32(vm, 3, Gic.V2Cpu + 0xc));    // IAR: SGI 5 from CPU 1
        Assert.False(gic.HasPendingIrq(3));                                 // still pending from CPU 2, but active
        Assert.True(gic.GetIrqInfo(3, 5).Pending);
        Gic.Write32(vm, 3, Gic.V2Cpu + 0x10, 5u | 1u << 10);                // EOIR
        Assert.True(gic.HasPendingIrq(3));
        Assert.Equal(5u | 2u << 10, Gic.Read32(vm, 3, Gic.V2Cpu + 0x18));   // HPPIR
        Assert.Equal(5u | 2u << 10, Gic.Read32(vm, 3, Gic.V2Cpu + 0xc));
        Gic.Write32(vm, 3, Gic.V2Cpu + 0x10, 5u | 2u << 10);
        Assert.False(gic.GetIrqInfo(3, 5).Pending);
        Assert.False(gic.GetIrqInfo(3, 5).Active);

        Gic.Write8(vm, 0, Gic.V2Dist + 0xf20 + 2, 0x0f);                   // SPENDSGIR: SGI 2 from CPUs 0..3
        Assert.Equal(0x0f, gic.GetIrqInfo(0, 2).SgiSources);
        Gic.Write8(vm, 0, Gic.V2Dist + 0xf10 + 2, 0x05);                   // CPENDSGIR
        Assert.Equal(0x0a, gic.GetIrqInfo(0, 2).SgiSources);
        Gic.Write32(vm, 0, Gic.V2Dist + 0x280, 0xffff);                    // ICPENDR does not clear SGIs on GICv2
        Assert.True(gic.GetIrqInfo(0, 2).Pending);
    }
}

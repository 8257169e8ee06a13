namespace SoftKvm.Arm64.Tests.Vgic;

public class GicV2CpuInterfaceTests
{
    private const ulong C = Gic.V2Cpu;
    private const ulong D = Gic.V2Dist;

    [Fact]
    public void RegistersResetAndBankPerVcpu()
    {
        var (vm, _) = Gic.V2(2);
        using var v = vm;
        Assert.Equal(0u, Gic.Read32(vm, 0, C + 0x0));
        Assert.Equal(2u, Gic.Read32(vm, 0, C + 0x8));                     // BPR minimum
        Assert.Equal(3u, Gic.Read32(vm, 0, C + 0x1c));                    // ABPR minimum
        Assert.Equal(0xffu, Gic.Read32(vm, 0, C + 0x14));                 // RPR idle
        Assert.Equal(1023u, Gic.Read32(vm, 0, C + 0x18));
        Assert.Equal(0x04b2043bu, Gic.Read32(vm, 0, C + 0xfc));
        Gic.Write32(vm, 1, C + 0x4, 0xff);
        Assert.Equal(0xf8u, Gic.Read32(vm, 1, C + 0x4));
        Assert.Equal(0u, Gic.Read32(vm, 0, C + 0x4));
        Gic.Write32(vm, 1, C + 0x0, 0x21f);
        Assert.Equal(0x21fu, Gic.Read32(vm, 1, C + 0x0));
        Gic.Write32(vm, 1, C + 0x8, 0);
        Assert.Equal(2u, Gic.Read32(vm, 1, C + 0x8));
    }

    [Fact]
    public void AcknowledgeEoiAndDeactivateThroughMmio()
    {
        var (vm, gic) = Gic.V2(2);
        using var v = vm;
        Gic.Write32(vm, 0, D, 1);
        Gic.Write32(vm, 1, C + 0x0, 1 | 1 << 9);                          // EnableGrp0, EOImode
        Gic.Write32(vm, 1, C + 0x4, 0xf0);
        Gic.Write32(vm, 0, D + 0x104, 1u << 4);                            // enable INTID 36
        Gic.Write8(vm, 0, D + 0x824, 0x2);                                 // target CPU 1
        Gic.Write8(vm, 0, D + 0x424, 0x60);
        gic.SetSpiLevel(4, true);
        Assert.True(gic.HasPendingIrq(1));
        Assert.False(gic.HasPendingIrq(0));
        Assert.Equal(36u, Gic.Read32(vm, 1, C + 0xc));
        Assert.Equal(0x60u, Gic.Read32(vm, 1, C + 0x14));
        Assert.Equal(1u << (0x60 >> 3), Gic.Read32(vm, 1, C + 0xd0));   // GICC_APR0
        gic.SetSpiLevel(4, false);
        Gic.Write32(vm, 1, C + 0x10, 36);                                  // EOIR: priority drop only
        Assert.Equal(0xffu, Gic.Read32(vm, 1, C + 0x14));
        Assert.True(gic.GetIrqInfo(1, 36).Active);
        Gic.Write32(vm, 1, C + 0x1000, 36);                                // GICC_DIR
        Assert.False(gic.GetIrqInfo(1, 36).Active);
    }

    [Fact]
    public void Group1NeedsAckCtlAndGroup0CanBeFiq()
    {
        var (vm, gic) = Gic.V2(1);
        using var v = vm;
        Gic.Write32(vm, 0, D, 3);
        Gic.Write32(vm, 0, C + 0x4, 0xff);
        Gic.Write32(vm, 0, C + 0x0, 0x3);
        Gic.Write32(vm, 0, D + 0x84, 1);                                   // INTID 32: Group 1
        Gic.Write32(vm, 0, D + 0x104, 3);
        Gic.Write8(vm, 0, D + 0x820, 1);
        Gic.Write8(vm, 0, D + 0x821, 1);
        Gic.Write8(vm, 0, D + 0x421, 0x80);                                // INTID 33 (Group 0) lower priority
        gic.InjectSpiEdge(0);
        Assert.True(gic.HasPendingIrq(0));
        Assert.Equal(1022u, Gic.Read32(vm, 0, C + 0xc));
        Gic.Write32(vm, 0, C + 0x0, 0x7);                                  // AckCtl
        Assert.Equal(32u, Gic.Read32(vm, 0, C + 0xc));
        Gic.Write32(vm, 0, C + 0x10, 32);
        Gic.Write32(vm, 0, C + 0x0, 0xf);                                  // FIQEn
        gic.InjectSpiEdge(1);
        Assert.True(gic.HasPendingFiq(0));
        Assert.False(gic.HasPendingIrq(0));
    }

    [Fact]
    public void SpiWithSeveralTargetsGoesToTheFirstToAcknowledge()
    {
        var (vm, gic) = Gic.V2(3);
        using var v = vm;
        Gic.Write32(vm, 0, D, 1);
        for (int c = 0; c < 3; c++)
        {
            Gic.Write32(vm, c, C + 0x0, 1);
            Gic.Write32(vm, c, C + 0x4, 0xff);
        }

        Gic.Write32(vm, 0, D + 0x104, 1);
        Gic.Write8(vm, 0, D + 0x820, 0x5);                                 // CPUs 0 and 2
        gic.InjectSpiEdge(0);
        Assert.True(gic.HasPendingIrq(0));
        Assert.False(gic.HasPendingIrq(1));
        Assert.True(gic.HasPendingIrq(2));
        Assert.Equal(32u, Gic.Read32(vm, 2, C + 0xc));
        Assert.False(gic.HasPendingIrq(0));
        Assert.Equal(1023u, Gic.Read32(vm, 0, C + 0xc));
        Gic.Write32(vm, 2, C + 0x10, 32);
        Assert.False(gic.GetIrqInfo(0, 32).Active);
    }
}

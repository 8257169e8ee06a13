using SoftKvm.Arm64.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class StateTests
{
    [Fact]
    public void GicV3StateRoundTripsIntoAFreshVgic()
    {
        var (vmA, a) = Gic.V3(4);
        using var x = vmA;
        Gic.EnableV3Cpu(a, vmA, 1);
        Gic.Write32(vmA, 0, Gic.V3Dist + 0x104, 0x3);
        Gic.Write8(vmA, 0, Gic.V3Dist + 0x420, 0x40);
        Gic.Write64(vmA, 0, Gic.V3Dist + 0x6000 + 8 * 32, 1);
        Gic.Write64(vmA, 0, Gic.V3Dist + 0x6000 + 8 * 33, 1UL << 31);
        a.SetSpiLevel(0, true);
        Gic.SysWrite(a, 1, IccRegisters.Bpr1, 5);
        Assert.Equal(32UL, Gic.SysRead(a, 1, IccRegisters.Iar1));
        Gic.SysWrite(a, 2, IccRegisters.Sgi1r, 1UL << 40 | 4UL << 24);
        Gic.Write32(vmA, 0, a.GetRedistributorBase(3)!.Value + 0x14, 2);
        a.SetPrivateLine(3, 27, true);

        var (vmB, b) = Gic.V3(4);
        using var y = vmB;
        Assert.NotEqual(a.DumpState(), b.DumpState());
        b.SetState(a.GetState());
        Assert.Equal(a.DumpState(), b.DumpState());
        Assert.Equal(6u, Gic.Read32(vmB, 0, b.GetRedistributorBase(3)!.Value + 0x14));
        Assert.Equal(0x40UL, Gic.SysRead(b, 1, IccRegisters.Rpr));
        Gic.SysWrite(b, 1, IccRegisters.Eoir1, 32);
        Assert.Equal(4UL, Gic.SysRead(b, 1, IccRegisters.Iar1));               // the broadcast SGI is still pending
    }

    [Fact]
    public void GicV2StateRoundTripsAndMismatchedShapesAreRefused()
    {
        var (vmA, a) = Gic.V2(3);
        using var x = vmA;
        Gic.Write32(vmA, 1, Gic.V2Dist + 0xf00, 0x01_00_0009);                   // SGI 9 to CPUs 0 and 2 from 1
        Gic.Write8(vmA, 0, Gic.V2Dist + 0x830, 0x6);
        Gic.Write32(vmA, 2, Gic.V2Cpu, 0x201);
        var (vmB, b) = Gic.V2(3);
        using var y = vmB;
        b.SetState(a.GetState());
        Assert.Equal(a.DumpState(), b.DumpState());
        Assert.Equal(0x02, b.GetIrqInfo(2, 9).SgiSources);

        var (vmC, c) = Gic.V2(2);
        using var z = vmC;
        Assert.Contains("does not fit", Assert.Throws<VgicException>(() => c.SetState(a.GetState())).Message);
        var (vmD, d) = Gic.V3(3);
        using var w = vmD;
        Assert.Throws<VgicException>(() => d.SetState(a.GetState()));
    }
}

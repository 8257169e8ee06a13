using SoftKvm.Arm64.Vgic;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

public class DistributorRegisterTests
{
    private const ulong D2 = Gic.V2Dist;
    private const ulong D3 = Gic.V3Dist;

    [Fact]
    public void IdentificationRegisters()
    {
        var (vm2, _) = Gic.V2(4);
        using var a = vm2;
        Assert.Equal(7u | (3u << 5), Gic.Read32(vm2, 0, D2 + 0x4));       // 256 INTIDs, 4 CPUs
        Assert.Equal(VgicDevice.Iidr, Gic.Read32(vm2, 0, D2 + 0x8));
        Assert.Equal(0x2bu, Gic.Read32(vm2, 0, D2 + 0xfe8));

        var (vm3, _) = Gic.V3(64, spis: 988);
        using var b = vm3;
        Assert.Equal(31u | (9u << 19), Gic.Read32(vm3, 0, D3 + 0x4));
        Assert.Equal(0x3bu, Gic.Read32(vm3, 0, D3 + 0xffe8));
        Assert.Equal(0x50u, Gic.Read32(vm3, 0, D3 + 0x0));                 // ARE, DS
        Gic.Write32(vm3, 0, D3 + 0x0, 0x3);
        Assert.Equal(0x53u, Gic.Read32(vm3, 0, D3 + 0x0));
    }

    [Fact]
    public void EnableSetAndClear()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        Gic.Write32(vm, 0, D3 + 0x104, 0x8000_0005);                      // INTIDs 32, 34, 63
        Assert.True(gic.GetIrqInfo(0, 32).Enabled);
        Assert.False(gic.GetIrqInfo(0, 33).Enabled);
        Assert.Equal(0x8000_0005u, Gic.Read32(vm, 1, D3 + 0x104));
        Assert.Equal(0x8000_0005u, Gic.Read32(vm, 1, D3 + 0x184));
        Gic.Write32(vm, 0, D3 + 0x184, 0x4);
        Assert.Equal(0x8000_0001u, Gic.Read32(vm, 0, D3 + 0x104));

        // GICv3: the private part of the distributor arrays is RAZ/WI (it lives in the redistributors)
        Assert.Equal(0u, Gic.Read32(vm, 0, D3 + 0x100));
        Gic.Write32(vm, 0, D3 + 0x180, 0xffffffff);
        Assert.True(gic.GetIrqInfo(0, 0).Enabled);
        // INTIDs past the last SPI are RAZ/WI
        Gic.Write32(vm, 0, D3 + 0x100 + 4 * 8, 0xffffffff);
        Assert.Equal(0u, Gic.Read32(vm, 0, D3 + 0x100 + 4 * 8));
    }

    [Fact]
    public void GicV2BanksPrivateIrqsPerAccessorAndKeepsSgisEnabled()
    {
        var (vm, gic) = Gic.V2(2);
        using var _ = vm;
        Gic.Write32(vm, 1, D2 + 0x100, 1u << 27);
        Assert.True(gic.GetIrqInfo(1, 27).Enabled);
        Assert.False(gic.GetIrqInfo(0, 27).Enabled);
        Assert.Equal(0xffffu | (1u << 27), Gic.Read32(vm, 1, D2 + 0x100));
        Assert.Equal(0xffffu, Gic.Read32(vm, 0, D2 + 0x100));
        Gic.Write32(vm, 0, D2 + 0x180, 0xffff);                           // SGIs cannot be disabled
        Assert.Equal(0xffffu, Gic.Read32(vm, 0, D2 + 0x100));
    }

    [Fact]
    public void PendingAndActiveSetAndClear()
    {
        var (vm, gic) = Gic.V3(1);
        using var _ = vm;
        Gic.Write32(vm, 0, D3 + 0x204, 0x3);
        Assert.True(gic.GetIrqInfo(0, 32).PendingLatch);
        Assert.Equal(0x3u, Gic.Read32(vm, 0, D3 + 0x284));
        Gic.Write32(vm, 0, D3 + 0x284, 0x1);
        Assert.Equal(0x2u, Gic.Read32(vm, 0, D3 + 0x204));
        Gic.Write32(vm, 0, D3 + 0x304, 0x10);
        Assert.True(gic.GetIrqInfo(0, 36).Active);
        Assert.Equal(0x10u, Gic.Read32(vm, 0, D3 + 0x384));
        Gic.Write32(vm, 0, D3 + 0x384, 0x10);
        Assert.False(gic.GetIrqInfo(0, 36).Active);

        // a level-sensitive SPI is pending while its line is high, whatever ICPENDR says
        gic.SetSpiLevel(10, true);
        Gic.Write32(vm, 0, D3 + 0x284, 1u << 10);
        Assert.True(gic.GetIrqInfo(0, 42).Pending);
        gic.SetSpiLevel(10, false);
        Assert.False(gic.GetIrqInfo(0, 42).Pending);
    }

    [Fact]
    public void PriorityByteAndWordAccessKeepFiveBits()
    {
        var (vm, gic) = Gic.V2(1);
        using var _ = vm;
        Gic.Write8(vm, 0, D2 + 0x400 + 33, 0xff);
        Assert.Equal(0xf8, gic.GetIrqInfo(0, 33).Priority);
        Gic.Write32(vm, 0, D2 + 0x400 + 36, 0x11223344);
        Assert.Equal(0x10203040u, Gic.Read32(vm, 0, D2 + 0x400 + 36));
        Assert.Equal(0x20, Gic.Read8(vm, 0, D2 + 0x400 + 38));
        Assert.Equal(0x0000f800u, Gic.Read32(vm, 0, D2 + 0x400 + 32));
        Gic.Write8(vm, 0, D2 + 0x400 + 3, 0x80);                          // banked SGI 3 priority
        Assert.Equal(0x80, gic.GetIrqInfo(0, 3).Priority);
        Assert.Equal(0u, Gic.Read32(vm, 0, D2 + 0x401));                  // misaligned word: RAZ
    }

    [Fact]
    public void GicV2SpiTargetsAreMaskedToOnlineCpus()
    {
        var (vm, gic) = Gic.V2(3);
        using var _ = vm;
        Gic.Write8(vm, 0, D2 + 0x800 + 40, 0xff);
        Assert.Equal(0x07, gic.GetIrqInfo(0, 40).Targets);
        Assert.Equal(0, gic.GetIrqInfo(0, 40).TargetVcpu);
        Gic.Write32(vm, 0, D2 + 0x800 + 40, 0x00000604);
        Assert.Equal(0x04, Gic.Read8(vm, 0, D2 + 0x800 + 40));
        Assert.Equal(2, gic.GetIrqInfo(0, 40).TargetVcpu);
        Assert.Equal(0x06, Gic.Read8(vm, 0, D2 + 0x800 + 41));
        Assert.Contains("  SPI     40 0x04", gic.DumpState());
    }

    [Fact]
    public void ConfigurationOfSpisIsWritableAndOfSgisFixed()
    {
        var (vm, gic) = Gic.V2(1);
        using var _ = vm;
        Assert.Equal(0xaaaaaaaau, Gic.Read32(vm, 0, D2 + 0xc00));
        Gic.Write32(vm, 0, D2 + 0xc00, 0);
        Assert.Equal(0xaaaaaaaau, Gic.Read32(vm, 0, D2 + 0xc00));
        Gic.Write32(vm, 0, D2 + 0xc08, 0x8);                              // INTID 33 edge
        Assert.True(gic.GetIrqInfo(0, 33).Edge);
        Assert.False(gic.GetIrqInfo(0, 32).Edge);
        Assert.Equal(0x8u, Gic.Read32(vm, 0, D2 + 0xc08));
    }

    [Fact]
    public void IrouterRoutesSpisByAffinityAndIgnoresPrivateAndAff3()
    {
        var (vm, gic) = Gic.V3(64);
        using var _ = vm;
        ulong irouter = D3 + 0x6000;
        Gic.Write64(vm, 0, irouter + 8 * 40, 0xff_0000_0208UL);            // Aff3 RAZ/WI
        Assert.Equal(0x208UL, Gic.Read64(vm, 0, irouter + 8 * 40));
        Assert.Equal(40, gic.GetIrqInfo(0, 40).TargetVcpu);
        Gic.Write32(vm, 0, irouter + 8 * 41, 0x103);                       // 32-bit access to the low word
        Assert.Equal(19, gic.GetIrqInfo(0, 41).TargetVcpu);
        Assert.Equal(0x103u, Gic.Read32(vm, 0, irouter + 8 * 41));
        Assert.Equal(0u, Gic.Read32(vm, 0, irouter + 8 * 41 + 4));
        Gic.Write64(vm, 0, irouter + 8 * 42, 0x40_0000UL);                 // no such vCPU
        Assert.Equal(-1, gic.GetIrqInfo(0, 42).TargetVcpu);
        Gic.Write64(vm, 0, irouter + 8 * 43, 1UL << 31 | 0x101);           // Interrupt_Routing_Mode: RAZ/WI, as KVM
        Assert.Equal(0x101UL, Gic.Read64(vm, 0, irouter + 8 * 43));
        Assert.Equal(17, gic.GetIrqInfo(0, 43).TargetVcpu);
        Assert.DoesNotContain("*", gic.DumpState());
        Gic.Write64(vm, 0, irouter + 8 * 5, 0x1);                          // private: RAZ/WI
        Assert.Equal(0UL, Gic.Read64(vm, 0, irouter + 8 * 5));
        Assert.Equal(0u, Gic.Read32(vm, 0, D3 + 0x800 + 40));              // ITARGETSR RAZ/WI with ARE
        Assert.Contains("  SPI     40 0x000208", gic.DumpState());
    }

    [Fact]
    public void GroupRegisterIsWritable()
    {
        var (vm, gic) = Gic.V2(1);
        using var _ = vm;
        Assert.Equal(0u, Gic.Read32(vm, 0, D2 + 0x84));
        Gic.Write32(vm, 0, D2 + 0x84, 0x2);
        Assert.Equal(1, gic.GetIrqInfo(0, 33).Group);
        Assert.Equal(0x2u, Gic.Read32(vm, 0, D2 + 0x84));
    }
}

using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Vgic;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// KVM's "Use a single IO device per redistributor"
/// (docs/kvm-semantics.md#gicv3-redistributor-as-one-device).
/// </summary>
public class RedistributorTests
{
    private const ulong Typer = 0x0008;
    private const ulong SgiBase = 0x10000;

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(512)]
    public void OneDevicePerRedistributorPlusTheDistributorOnTheBus(int vcpus)
    {
        var (vm, gic) = Gic.V3(vcpus);
        using var _ = vm;
        Assert.Equal(1 + vcpus, vm.MmioBus.Count);
        Assert.Equal(1 + vcpus, gic.Devices.Count);
        for (int i = 0; i < vcpus; i++)
        {
            ulong rdBase = Gic.V3Redist + (ulong)i * VgicDevice.RedistributorSize;
            Assert.Equal(rdBase, gic.GetRedistributorBase(i));
            Assert.True(vm.MmioBus.TryFind(rdBase, 4, out var first, out ulong o1));
            Assert.True(vm.MmioBus.TryFind(rdBase + 0x1fffc, 4, out var last, out ulong o2));
            Assert.Same(first, last);
            Assert.Equal(0UL, o1);
            Assert.Equal(0x1fffcUL, o2);
        }
    }

    [Fact]
    public void EveryGicrTyperOf512IsReadableAndLastOnlyOnTheLast()
    {
        var (vm, gic) = Gic.V3(512);
        using var _ = vm;
        for (int i = 0; i < 512; i++)
        {
            ulong rdBase = Gic.V3Redist + (ulong)i * VgicDevice.RedistributorSize;
            int reader = (i * 7) % 512; // any vCPU may read any redistributor
            ulong typer = Gic.Read64(vm, reader, rdBase + Typer);
            Assert.Equal((ulong)i, (typer >> 8) & 0xffff);
            Assert.Equal(Mpidr.Affinity(Mpidr.FromVcpuId(i)), typer >> 32);
            Assert.Equal(i == 511, (typer & (1 << 4)) != 0);
            Assert.Equal((uint)typer, Gic.Read32(vm, reader, rdBase + Typer));
            Assert.Equal((uint)(typer >> 32), Gic.Read32(vm, reader, rdBase + Typer + 4));
        }
    }

    [Fact]
    public void TwoRegionsAsQemuVirtLaysThemOutHaveALastEach()
    {
        using var vm = TestVm.WithVcpus(512);
        var gic = new VgicDevice(vm, GicModel.V3, 512);
        gic.SetAddress(VgicAddressType.V3Distributor, Gic.V3Dist);
        gic.SetAddress(VgicAddressType.V3RedistributorRegion, (123UL << 52) | Gic.V3Redist | 0);
        gic.SetAddress(VgicAddressType.V3RedistributorRegion, (389UL << 52) | Gic.V3HighRedist | 1);
        gic.Init();
        Assert.Equal(513, vm.MmioBus.Count);
        for (int i = 0; i < 512; i++)
        {
            ulong rdBase = i < 123
                ? Gic.V3Redist + (ulong)i * VgicDevice.RedistributorSize
                : Gic.V3HighRedist + (ulong)(i - 123) * VgicDevice.RedistributorSize;
            Assert.Equal(rdBase, gic.GetRedistributorBase(i));
            ulong typer = Gic.Read64(vm, 0, rdBase + Typer);
            Assert.Equal((ulong)i, (typer >> 8) & 0xffff);
            Assert.Equal(i is 122 or 511, (typer & (1 << 4)) != 0);
        }
    }

    [Fact]
    public void ContiguousRegionsShareOneLast()
    {
        using var vm = TestVm.WithVcpus(6);
        var gic = new VgicDevice(vm, GicModel.V3, 6);
        gic.SetDistributorBase(Gic.V3Dist);
        gic.AddRedistributorRegion(0, Gic.V3Redist, 4);
        gic.AddRedistributorRegion(1, Gic.V3Redist + 4 * VgicDevice.RedistributorSize, 8);
        gic.Init();
        for (int i = 0; i < 6; i++)
        {
            ulong typer = Gic.Read64(vm, 0, gic.GetRedistributorBase(i)!.Value + Typer);
            Assert.Equal(i == 5, (typer & (1 << 4)) != 0);
        }
    }

    [Fact]
    public void APartlyUsedRegionHasItsLastOnTheLastUsedSlot()
    {
        using var vm = TestVm.WithVcpus(3);
        var gic = new VgicDevice(vm, GicModel.V3, 3);
        gic.SetDistributorBase(Gic.V3Dist);
        gic.AddRedistributorRegion(0, Gic.V3Redist, 16);
        gic.Init();
        Assert.Equal(4, vm.MmioBus.Count);
        Assert.NotEqual(0UL, Gic.Read64(vm, 0, Gic.V3Redist + 2 * VgicDevice.RedistributorSize + Typer) & (1 << 4));
    }

    [Fact]
    public void SgiFrameIsenabler0ReadsTheSgiEnablesThroughTheSameDevice()
    {
        var (vm, gic) = Gic.V3(4);
        using var _ = vm;
        for (int i = 0; i < 4; i++)
        {
            ulong rd = gic.GetRedistributorBase(i)!.Value;
            Assert.Equal(0xffffu, Gic.Read32(vm, 0, rd + SgiBase + 0x100));
        }

        // enable PPI 27 of vCPU 2 only, through its redistributor, from vCPU 0
        Gic.Write32(vm, 0, gic.GetRedistributorBase(2)!.Value + SgiBase + 0x100, 1u << 27);
        Assert.True(gic.GetIrqInfo(2, 27).Enabled);
        Assert.False(gic.GetIrqInfo(1, 27).Enabled);
        Assert.Equal(0xffffu | (1u << 27), Gic.Read32(vm, 3, gic.GetRedistributorBase(2)!.Value + SgiBase + 0x100));
        Gic.Write32(vm, 0, gic.GetRedistributorBase(2)!.Value + SgiBase + 0x180, 1u << 27 | 1);
        Assert.Equal(0xfffeu, Gic.Read32(vm, 0, gic.GetRedistributorBase(2)!.Value + SgiBase + 0x100));
    }

    [Fact]
    public void SgiFrameRegistersAreTheVcpusPrivateIrqs()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        ulong sgi = gic.GetRedistributorBase(1)!.Value + SgiBase;

        Gic.Write8(vm, 0, sgi + 0x400 + 27, 0xa3);                  // GICR_IPRIORITYR byte: 5 bits kept
        Assert.Equal(0xa0, Gic.Read8(vm, 0, sgi + 0x400 + 27));
        Assert.Equal(0xa0000000u, Gic.Read32(vm, 0, sgi + 0x400 + 24));
        Assert.Equal(0xa0, gic.GetIrqInfo(1, 27).Priority);

        Assert.Equal(0xaaaaaaaau, Gic.Read32(vm, 0, sgi + 0xc00)); // ICFGR0: SGIs edge
        Assert.Equal(0u, Gic.Read32(vm, 0, sgi + 0xc04));          // ICFGR1: PPIs level
        Gic.Write32(vm, 0, sgi + 0xc04, 0xffffffff);                 // fixed
        Assert.Equal(0u, Gic.Read32(vm, 0, sgi + 0xc04));

        Assert.Equal(0xffffffffu, Gic.Read32(vm, 0, sgi + 0x080)); // IGROUPR0: Group 1
        Gic.Write32(vm, 0, sgi + 0x080, 0xfffffffe);
        Assert.Equal(0, gic.GetIrqInfo(1, 0).Group);

        Gic.Write32(vm, 0, sgi + 0x200, 1u << 20);                   // ISPENDR0
        Assert.True(gic.GetIrqInfo(1, 20).Pending);
        Assert.Equal(1u << 20, Gic.Read32(vm, 0, sgi + 0x280));
        Gic.Write32(vm, 0, sgi + 0x280, 1u << 20);                   // ICPENDR0
        Assert.False(gic.GetIrqInfo(1, 20).Pending);

        Gic.Write32(vm, 0, sgi + 0x300, 1u << 3);                    // ISACTIVER0
        Assert.True(gic.GetIrqInfo(1, 3).Active);
        Assert.Equal(1u << 3, Gic.Read32(vm, 0, sgi + 0x380));
        Gic.Write32(vm, 0, sgi + 0x380, 1u << 3);
        Assert.False(gic.GetIrqInfo(1, 3).Active);
        Assert.False(gic.GetIrqInfo(0, 20).Pending);
    }

    [Fact]
    public void RdBaseRegisters()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        ulong rd = gic.GetRedistributorBase(0)!.Value;
        Assert.Equal(VgicDevice.Iidr, Gic.Read32(vm, 0, rd + 0x4));
        Assert.Equal(0x4b00243bu, VgicDevice.Iidr);
        Assert.Equal(0x3bu, Gic.Read32(vm, 0, rd + 0xffe8));
        Assert.Equal(0u, Gic.Read32(vm, 0, rd + 0x0));               // GICR_CTLR: no LPIs
        Gic.Write32(vm, 0, rd + 0x0, 1);
        Assert.Equal(0u, Gic.Read32(vm, 0, rd + 0x0));

        Assert.Equal(0u, Gic.Read32(vm, 0, rd + 0x14));              // GICR_WAKER awake
        Gic.Write32(vm, 0, rd + 0x14, 2);
        Assert.Equal(6u, Gic.Read32(vm, 0, rd + 0x14));              // ProcessorSleep, ChildrenAsleep
        Gic.Write32(vm, 0, rd + 0x14, 0);
        Assert.Equal(0u, Gic.Read32(vm, 0, rd + 0x14));

        Gic.Write64(vm, 0, rd + 0x70, 0x0000_0000_4000_0413UL);     // GICR_PROPBASER
        Assert.Equal(0x0000_0000_4000_0413UL, Gic.Read64(vm, 0, rd + 0x70));
        Gic.Write32(vm, 0, rd + 0x7c, 0x1);                          // upper half of PENDBASER
        Assert.Equal(0x1_0000_0000UL, Gic.Read64(vm, 0, rd + 0x78));
        ulong rd1 = gic.GetRedistributorBase(1)!.Value;
        Gic.Write64(vm, 0, rd1 + 0x8, 0);                            // GICR_TYPER is WI
        Assert.Equal(1UL << 32 | 1UL << 8 | 1UL << 4, Gic.Read64(vm, 0, rd1 + 0x8));
        Assert.Equal(0UL, Gic.Read64(vm, 0, rd + 0x8));
    }

    [Fact]
    public void InvalidAccessesAreHandledInKernelAsRazWi()
    {
        var (vm, gic) = Gic.V3(2);
        using var _ = vm;
        ulong rd = gic.GetRedistributorBase(1)!.Value;
        Assert.Equal(0u, Gic.Read32(vm, 0, rd + 0x6));               // misaligned
        Assert.Equal(0UL, Gic.Read64(vm, 0, rd + SgiBase + 0x100));  // 64-bit access to a 32-bit register
        Assert.Equal(0u, Gic.Read32(vm, 0, rd + 0x5000));            // unknown offset
        Assert.Equal(0, Gic.Read8(vm, 0, rd + SgiBase + 0x100));     // byte access to ISENABLER0
        Gic.Write64(vm, 0, rd + SgiBase + 0x180, ulong.MaxValue);    // ignored
        Gic.Write32(vm, 0, rd + 0x5000, 0xffffffff);
        Assert.Equal(0xffffu, Gic.Read32(vm, 0, rd + SgiBase + 0x100));
    }
}

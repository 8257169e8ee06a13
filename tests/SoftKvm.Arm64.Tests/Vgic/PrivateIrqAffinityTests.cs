using System.Globalization;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Vgic;
using VgicDevice = SoftKvm.Arm64.Vgic.Vgic;

namespace SoftKvm.Arm64.Tests.Vgic;

/// <summary>
/// KVM's "Properly initialise private IRQ affinity" (docs/kvm-semantics.md#vgic-private-irq-affinity).
/// </summary>
public class PrivateIrqAffinityTests
{
    [Theory]
    [InlineData(33)]
    [InlineData(64)]
    [InlineData(512)]
    public void GicV3DumpShowsEveryPrivateIrqsMpidr(int vcpus)
    {
        var (vm, gic) = Gic.V3(vcpus);
        using var _ = vm;
        var rows = ParseDump(gic.DumpState());
        for (int v = 0; v < vcpus; v++)
        {
            string expected = "0x" + Mpidr.Affinity(Mpidr.FromVcpuId(v)).ToString("x6", CultureInfo.InvariantCulture);
            for (int intId = 0; intId < VgicDevice.NrPrivateIrqs; intId++)
            {
                var row = rows[(v, intId)];
                Assert.Equal(expected, row.Target);
                Assert.Equal(v, row.Vcpu);
                Assert.Equal(1, row.Group);

                var info = gic.GetIrqInfo(v, intId);
                Assert.Equal(0, info.Targets);
                Assert.Equal(1, info.Group);
            }
        }
    }

    [Fact]
    public void GicV3Vcpu40HasAffinity0x000208AndNoV2Mask()
    {
        var (vm, gic) = Gic.V3(64);
        using var _ = vm;
        var info = gic.GetIrqInfo(40, 27);
        Assert.Equal(0x000208UL, info.Mpidr);
        Assert.Equal(0, info.Targets);
        Assert.Equal(1, info.Group);
        Assert.Contains("VCPU 40  MPIDR 0x80000208", gic.DumpState());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GroupsAreTheModelsWhetherTheDeviceComesBeforeOrAfterTheVcpus(bool vcpusFirst)
    {
        foreach (var model in new[] { GicModel.V2, GicModel.V3 })
        {
            using var vm = new TestVm(4);
            if (vcpusFirst)
            {
                for (int i = 0; i < 4; i++)
                {
                    vm.CreateVcpu(i);
                }
            }

            var gic = new VgicDevice(vm, model, 4);
            if (!vcpusFirst)
            {
                for (int i = 0; i < 4; i++)
                {
                    vm.CreateVcpu(i);
                }
            }

            gic.SetDistributorBase(Gic.V2Dist);
            if (model == GicModel.V2)
            {
                gic.SetCpuInterfaceBase(Gic.V2Cpu);
            }
            else
            {
                gic.SetRedistributorBase(Gic.V3Redist);
            }

            gic.Init();
            int group = model == GicModel.V2 ? 0 : 1;
            for (int v = 0; v < 4; v++)
            {
                for (int intId = 0; intId < 32; intId++)
                {
                    Assert.Equal(group, gic.GetIrqInfo(v, intId).Group);
                }
            }
        }
    }

    [Fact]
    public void GicV2ItargetsrOfPrivateIrqsReadsTheAccessorsOwnBitAndIgnoresWrites()
    {
        var (vm, gic) = Gic.V2(4);
        using var _ = vm;
        for (int k = 0; k < 4; k++)
        {
            for (ulong r = 0; r < 8; r++)
            {
                Assert.Equal(0x01010101u << k, Gic.Read32(vm, k, Gic.V2Dist + 0x800 + 4 * r));
                Gic.Write32(vm, k, Gic.V2Dist + 0x800 + 4 * r, 0xffffffff);
                Assert.Equal(0x01010101u << k, Gic.Read32(vm, k, Gic.V2Dist + 0x800 + 4 * r));
            }

            Assert.Equal((byte)(1 << k), gic.GetIrqInfo(k, 5).Targets);
            Assert.Equal(0UL, gic.GetIrqInfo(k, 5).Mpidr);
        }

        Assert.Contains("  SGI      0 0x01", gic.DumpState());
    }

    [Fact]
    public void StateBeforeInitCarriesNoModelFields()
    {
        using var vm = TestVm.WithVcpus(40);
        var gic = new VgicDevice(vm, GicModel.V3, 40);
        var info = gic.GetIrqInfo(33, 16);
        Assert.Equal(0UL, info.Mpidr);
        Assert.Equal(0, info.Targets);
        Assert.Equal(33, info.TargetVcpu);
        Assert.False(info.Edge);
        Assert.True(gic.GetIrqInfo(33, 3).Edge);
        Assert.True(gic.GetIrqInfo(33, 3).Enabled);
    }

    internal static Dictionary<(int Vcpu, int IntId), (string Target, int Vcpu, int Group)> ParseDump(string dump)
    {
        var rows = new Dictionary<(int, int), (string, int, int)>();
        int vcpu = -1;
        foreach (var line in dump.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2 && f[0] == "VCPU")
            {
                vcpu = int.Parse(f[1], CultureInfo.InvariantCulture);
            }
            else if (f.Length > 6 && f[0] is "SGI" or "PPI")
            {
                rows[(vcpu, int.Parse(f[1], CultureInfo.InvariantCulture))] =
                    (f[2], int.Parse(f[3], CultureInfo.InvariantCulture), int.Parse(f[5], CultureInfo.InvariantCulture));
            }
        }

        return rows;
    }
}

using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Errors;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>The CPU models: their ID registers as the guest reads them, and the model as a VM-wide choice made before the vCPUs exist.</summary>
public sealed class CpuModelTests
{
    // mrs x0..x8 of MIDR, ID_AA64PFR0, PFR1, ISAR0, ISAR1, MMFR0, MMFR1, MMFR2, DFR0; then PSCI SYSTEM_OFF.
    private static ulong[] GuestIds(CpuModel model)
    {
        using var m = new TestMachine(model: model);
        // The SYSTEM_OFF function id goes through w9 so x0..x8 keep the values read.
        var v = m.Start(
            0xd5380000u, 0xd5380401u, 0xd5380422u, 0xd5380603u, 0xd5380624u, 0xd5380705u, 0xd5380726u, 0xd5380747u, 0xd5380508u,
            0xaa0003e9u, 0x52b08000u, 0x11002000u, 0xd4000002u);
        var ids = new ulong[9];
        m.Run(v);
        // x0 was overwritten by the PSCI call: MIDR is kept in x9.
        ids[0] = X(v, 9);
        for (int i = 1; i < 9; i++)
        {
            ids[i] = X(v, i);
        }

        return ids;
    }

    [Fact]
    public void CortexA57_IdRegistersAreTheArmv8Ones()
    {
        var ids = GuestIds(CpuModel.CortexA57);
        Assert.Equal(0x411F_D070UL, ids[0]);
        Assert.Equal(0x11UL, ids[1] & ~(0xFUL << 24)); // EL0/EL1 AArch64, FP and AdvSIMD; GIC as the controller says
        Assert.Equal(0UL, ids[2]);
        Assert.Equal(0x1_0000UL, ids[3]); // CRC32 only
        Assert.Equal(0UL, ids[4]);
        Assert.Equal(0x10_0022UL, ids[5]);
        Assert.Equal(0UL, ids[6]);
        Assert.Equal(0UL, ids[7]);
        Assert.Equal(0x10_1006UL, ids[8]);
    }

    [Fact]
    public void Max_IdRegistersAdvertiseItsFeaturesAndOnlyThose()
    {
        var model = CpuModel.Max;
        var ids = GuestIds(model);
        Assert.Equal(model.Midr, ids[0]);
        Assert.Equal(0UL, ids[0] >> 24); // implementer 0: no real core's errata apply
        Assert.Equal(model.IdAa64Pfr0, ids[1] & ~(0xFUL << 24));
        Assert.Equal(model.IdAa64Pfr1, ids[2]);
        Assert.Equal(model.IdAa64Isar0, ids[3]);
        Assert.Equal(model.IdAa64Isar1, ids[4]);
        Assert.Equal(model.IdAa64Mmfr1, ids[6]);
        Assert.Equal(model.IdAa64Mmfr2, ids[7]);
        Assert.Equal(model.Has(CpuFeatures.Lse) ? 2UL : 0, (ids[3] >> 20) & 0xF);
        Assert.Equal(1UL, (ids[3] >> 16) & 0xF); // CRC32 stays
        Assert.Equal(0x11UL, (ids[1] >> 16) & 0xFF); // FP = 1, AdvSIMD = 1: FEAT_FP16
    }

    [Theory]
    [InlineData(CpuFeatures.Lse, 0, 20, 2UL)]
    [InlineData(CpuFeatures.FlagM | CpuFeatures.FlagM2, 0, 52, 2UL)]
    [InlineData(CpuFeatures.Lrcpc | CpuFeatures.Lrcpc2, 1, 20, 2UL)]
    [InlineData(CpuFeatures.Sb, 1, 36, 1UL)]
    [InlineData(CpuFeatures.Sm3, 0, 36, 1UL)]
    [InlineData(CpuFeatures.Sm4, 0, 40, 1UL)]
    [InlineData(CpuFeatures.Pauth, 1, 8, 1UL)] // API: the IMPDEF algorithm, max's default
    [InlineData(CpuFeatures.Pauth, 1, 28, 1UL)] // GPI
    public void IdFieldsFollowTheFeatures(CpuFeatures feature, int isar, int lsb, ulong value)
    {
        // Every feature the max model has shows in its ID register field; cortex-a57 shows none.
        ulong Of(CpuModel m) => ((isar == 0 ? m.IdAa64Isar0 : m.IdAa64Isar1) >> lsb) & 0xF;
        Assert.Equal(CpuModel.Max.Has(feature) ? value : 0, Of(CpuModel.Max));
        Assert.Equal(0UL, Of(CpuModel.CortexA57));
    }

    [Fact]
    public void MaxSaysItHasNoSpeculation_Csv2Csv3AndEcbhb()
    {
        Assert.Equal(0x11UL, (CpuModel.Max.IdAa64Pfr0 >> 56) & 0xFF); // CSV3 = 1, CSV2 = 1
        Assert.Equal(1UL, CpuModel.Max.IdAa64Mmfr1 >> 60); // ECBHB = 1
        Assert.Equal(1UL, (CpuModel.Max.IdAa64Mmfr1 >> 20) & 0xF); // PAN stays
        Assert.Equal(0UL, CpuModel.CortexA57.IdAa64Pfr0 >> 56);
        Assert.Equal(0UL, CpuModel.CortexA57.IdAa64Mmfr1);
    }

    [Fact]
    public void MaxHasBtiInPfr1()
    {
        Assert.Equal(1UL, CpuModel.Max.IdAa64Pfr1 & 0xF);
        Assert.Equal(0UL, CpuModel.CortexA57.IdAa64Pfr1 & 0xF);
    }

    [Fact]
    public void ParseChoosesThePacAlgorithm_WhichIsa1Says()
    {
        Assert.Same(CpuModel.Max, CpuModel.Parse("max", out _));
        Assert.Equal(PacAlgorithm.Impdef, CpuModel.Max.PacAlgorithm);
        var qarma = CpuModel.Parse("max,pauth=QARMA5", out _)!;
        var impdef = CpuModel.Parse("MAX, PAuth=ImpDef", out string? error)!;
        Assert.Null(error);
        Assert.Equal(PacAlgorithm.Impdef, impdef.PacAlgorithm);
        Assert.Equal(PacAlgorithm.Qarma5, qarma.PacAlgorithm);
        Assert.Equal("max", impdef.Spec);
        Assert.Equal("max,pauth=qarma5", qarma.Spec);
        Assert.Equal(0x01UL, (qarma.IdAa64Isar1 >> 4) & 0xFF); // APA = 1, API = 0
        Assert.Equal(0x01UL, (qarma.IdAa64Isar1 >> 24) & 0xFF); // GPA = 1, GPI = 0
        Assert.Equal(0UL, (impdef.IdAa64Isar1 >> 4) & 0xF); // APA = 0
        Assert.Equal(1UL, (impdef.IdAa64Isar1 >> 8) & 0xF); // API = 1
        Assert.Equal(0UL, (impdef.IdAa64Isar1 >> 24) & 0xF); // GPA = 0
        Assert.Equal(1UL, (impdef.IdAa64Isar1 >> 28) & 0xF); // GPI = 1
        Assert.Equal(impdef.IdAa64Isar1 & ~0xFF00_0FF0UL, qarma.IdAa64Isar1 & ~0xFF00_0FF0UL);
    }

    [Theory]
    [InlineData("max,pauth=sha1")]
    [InlineData("max,bti=off")]
    [InlineData("cortex-a57,pauth=impdef")]
    [InlineData("cortex-a72")]
    public void ParseRefusesUnknownModelsAndOptions(string spec)
    {
        Assert.Null(CpuModel.Parse(spec, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void FindIsCaseInsensitiveAndKnowsOnlyTheModels()
    {
        Assert.Same(CpuModel.Max, CpuModel.Find(" MAX "));
        Assert.Same(CpuModel.CortexA57, CpuModel.Find("cortex-a57"));
        Assert.Null(CpuModel.Find("cortex-a72"));
        Assert.Same(CpuModel.CortexA57, CpuModel.All[0]);
    }

    [Fact]
    public void ModelIsChosenBeforeTheFirstVcpu()
    {
        using var vm = new Arm64Vm { CpuModel = CpuModel.Max };
        var vcpu = vm.CreateVcpu(0);
        Assert.Same(CpuModel.Max, vcpu.Cpu.Model);
        var e = Assert.Throws<VcpuException>(() => vm.CpuModel = CpuModel.CortexA57);
        Assert.Equal(KvmErrno.Busy, e.Errno);
        Assert.Same(CpuModel.Max, vm.CpuModel);
    }

    [Fact]
    public void SetCpuModelByName_KnowsOnlyTheModels()
    {
        using var vm = new Arm64Vm();
        vm.SetCpuModel("MAX");
        Assert.Same(CpuModel.Max, vm.CpuModel);
        Assert.Equal(KvmErrno.InvalidArgument, Assert.Throws<VcpuException>(() => vm.SetCpuModel("cortex-a72")).Errno);
        Assert.Equal(["cortex-a57", "max"], Arm64Vm.CpuModelList.Select(m => m.Name));
    }
}

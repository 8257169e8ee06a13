using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>DC CVAP and DC CVADP (FEAT_DPB, FEAT_DPB2): no-ops on RAM, a translation fault with CM set where nothing is mapped, UNDEFINED on cortex-a57.</summary>
public sealed class DataPersistenceTests
{
    // dc cvap,x0; dc cvadp,x0; mov x1,#7; then the default vectors end the run at the next exception (brk #0).
    private static readonly uint[] Code = [0xd50b7c20u, 0xd50b7d20u, 0xd28000e1u, 0xd4200000u];

    [Fact]
    public void Max_CleanToPersistenceOnRamDoesNothingElse()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = m.Start(Code);
        m.EnableIdentityMmu(v);
        SetX(v, 0, RamBase + 0x6000);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(7UL, X(v, 1));
        Assert.Equal(0x3CUL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26); // the BRK
    }

    [Fact]
    public void Max_CleanToPersistenceOfAnUnmappedAddressFaultsWithCm()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        var v = m.Start(Code);
        m.EnableIdentityMmu(v);
        SetX(v, 0, 0x1_0000_0000UL); // beyond the two identity-mapped gigabytes
        Assert.Equal(RunResult.Ok, m.Run(v));
        ulong esr = v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0));
        Assert.Equal(0x25UL, esr >> 26);
        Assert.NotEqual(0UL, esr & (1UL << 8)); // CM: a cache maintenance instruction
        Assert.Equal(0UL, X(v, 1));
    }

    [Fact]
    public void CortexA57_DcCvapIsUndefined()
    {
        using var m = new TestMachine();
        var v = m.Start(Code);
        SetX(v, 0, RamBase + 0x6000);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26);
        Assert.Equal(CodeBase, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1)));
    }
}

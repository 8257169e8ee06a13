using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Cpu.Tests;

/// <summary>PSTATE.SSBS and PSTATE.DIT (max): MSR (immediate), MRS, exception entry (SSBS from SCTLR_EL1.DSSBS, DIT kept) and SPSR.</summary>
public sealed class PstateFlagTests
{
    // msr ssbs,#1; msr dit,#1; mrs x1,ssbs; mrs x2,dit; mov x9,#1<<44; mrs x10,sctlr_el1; orr x10,x10,x9;
    // msr sctlr_el1,x10 (DSSBS); msr ssbs,#0; svc #0
    private static readonly uint[] Code =
        [0xd503413fu, 0xd503415fu, 0xd53b42c1u, 0xd53b42a2u, 0xd2c20009u, 0xd538100au, 0xaa09014au, 0xd518100au, 0xd503403fu, 0xd4000001u];

    // At the vector for a synchronous exception from EL1h: mrs x3,ssbs; mrs x4,spsr_el1; mrs x5,dit; PSCI SYSTEM_OFF.
    private static readonly uint[] Vector = [0xd53b42c3u, 0xd5384004u, 0xd53b42a5u, 0x52b08000u, 0x11002000u, 0xd4000002u];

    [Fact]
    public void Max_SsbsAndDitAreWrittenReadSavedAndSetOnEntry()
    {
        using var m = new TestMachine(model: CpuModel.Max);
        m.Load(VectorBase + 0x200, Vector);
        var v = m.Start(Code);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(1UL << 12, X(v, 1));
        Assert.Equal(1UL << 24, X(v, 2));
        Assert.Equal(1UL << 12, X(v, 3)); // SSBS = SCTLR_EL1.DSSBS on entry
        Assert.Equal((1UL << 24) | 0x3C5, X(v, 4)); // SPSR: DIT set, SSBS clear (msr ssbs,#0), EL1h, DAIF
        Assert.Equal(1UL << 24, X(v, 5)); // DIT kept
    }

    [Fact]
    public void CortexA57_MsrSsbsIsUndefined()
    {
        using var m = new TestMachine();
        var v = m.Start(Code);
        Assert.Equal(RunResult.Ok, m.Run(v));
        Assert.Equal(CodeBase, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 1))); // ELR_EL1: the first instruction
        Assert.Equal(0UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 5, 2, 0)) >> 26); // ESR_EL1.EC = 0 (UNDEFINED)
        Assert.Equal(0x3C5UL, v.GetSystemRegister(SysRegKey.Of(3, 0, 4, 0, 0))); // SPSR_EL1: no extension bits
    }
}

using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Errors;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>The vCPU's PMUv3 as KVM's in-kernel PMU (docs/kvm-semantics.md#arm64-pmu), at register level.</summary>
public class PmuTests
{
    private static readonly SysRegKey Dfr0 = SysRegKey.Of(3, 0, 0, 5, 0);
    private static readonly SysRegKey Pmcr = SysRegKey.Of(3, 3, 9, 12, 0);
    private static readonly SysRegKey Pmevcntr0 = SysRegKey.Of(3, 3, 14, 8, 0);
    private static readonly SysRegKey Pmevcntr5 = SysRegKey.Of(3, 3, 14, 8, 5);
    private static readonly SysRegKey Pmevcntr6 = SysRegKey.Of(3, 3, 14, 8, 6);
    private static readonly SysRegKey Pmccfiltr = SysRegKey.Of(3, 3, 14, 15, 7);

    // mov x2,#1; msr pmcr_el0,x2; mov x2,#8; msr pmevtyper0_el0,x2; mov x2,#1; mov x3,#5000;
    // msr pmcntenset_el0,x2; 1: subs x3,x3,#1; b.ne 1b; mrs x1,pmevcntr0_el0; mrs x4,pmccntr_el0;
    // mrs x5,pmceid0_el0; PSCI SYSTEM_OFF
    private static readonly uint[] CountLoop =
    [
        0xd2800022u, 0xd51b9c02u, 0xd2800102u, 0xd51bec02u, 0xd2800022u, 0xd2827103u, 0xd51b9c22u,
        0xf1000463u, 0x54ffffe1u, 0xd53be801u, 0xd53b9d04u, 0xd53b9cc5u, 0x52b08000u, 0x11002000u, 0xd4000002u,
    ];

    [Fact]
    public void WithoutThePmuFeatureThePmuRegistersAreUndefined()
    {
        using var m = new TestMachine();
        var v = m.Start(0xd53b9c00u); // mrs x0, pmcr_el0 -> UNDEFINED -> the vector's SYSTEM_OFF
        Assert.Equal(0UL, (v.GetSystemRegister(Dfr0) >> 8) & 0xF);
        Assert.Throws<VcpuException>(() => v.GetSystemRegister(Pmcr));
        m.Run();
        Assert.Equal(1UL, Stat(v, "undef_insn"));
    }

    [Fact]
    public void WithThePmuFeatureDfr0SaysPmuV3p5AndPmcrHasSixCounters()
    {
        using var m = new TestMachine();
        var v = m.Init(m.Vcpu, CodeBase, new Arm64VcpuInit { Pmu = true });
        Assert.Equal(6UL, (v.GetSystemRegister(Dfr0) >> 8) & 0xF);
        Assert.Equal(0x4100_3040UL, v.GetSystemRegister(Pmcr));             // IMP 0x41, N 6, LC
        v.SetSystemRegister(Pmevcntr5, 0x1_2345_6789);                       // 32 bits while PMCR_EL0.LP is 0
        Assert.Equal(0x2345_6789UL, v.GetSystemRegister(Pmevcntr5));
        Assert.Throws<VcpuException>(() => v.GetSystemRegister(Pmevcntr6));  // beyond N
        v.SetSystemRegister(Pmccfiltr, ulong.MaxValue);
        Assert.Equal(0xF800_0000UL, v.GetSystemRegister(Pmccfiltr));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ALoopCountsExactlyAndRunsInterpretedWhileCounted(bool translateEagerly)
    {
        using var m = new TestMachine();
        m.Load(CodeBase, CountLoop);
        var v = m.Init(m.Vcpu, CodeBase, new Arm64VcpuInit { Pmu = true });
        v.Cpu.TranslationEnabled = translateEagerly; // native blocks at their first execution, or the interpreter alone

        m.Run();
        Assert.Equal(10_000UL, X(v, 1));          // subs and b.ne, 5000 times
        Assert.Equal(0UL, X(v, 4));               // the cycle counter was not enabled
        Assert.Equal(0x480A_0101UL, X(v, 5));     // SW_INCR, INST_RETIRED, CPU_CYCLES, MEM_ACCESS, INST_SPEC, CHAIN
        // Only the 7 instructions before the counter started may have run translated.
        Assert.Equal(translateEagerly ? 7 : 0, v.Cpu.Counters.TranslatedInstructions);
        // At the end: the loop, the 3 MRS, movz, add, and the HVC the hypervisor completed.
        Assert.Equal(10_006UL, v.GetSystemRegister(Pmevcntr0));
    }
}

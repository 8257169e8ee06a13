using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// Arm semihosting's exit (docs/architecture.md#arm-semihosting), in the interpreter and in native blocks: HLT
/// #0xF000 at EL1 on a vCPU initialised with <see cref="Arm64VcpuInit.Semihosting"/> is a <c>KVM_EXIT_HYPERCALL</c>
/// with the ArmSemihosting flag, W0 and X1, PC past the HLT; without it, at EL0, or with another immediate, HLT
/// is UNDEFINED (EC 0 at the HLT), as on hardware without a halting debugger.
/// </summary>
public sealed class SemihostingExitTests
{
    private const uint AddX2 = 0x91000442u; // add x2, x2, #1
    private const uint HltSemihosting = 0xd45e0000u; // hlt #0xf000
    private const uint Hlt1 = 0xd4400020u; // hlt #1

    private static readonly SysRegKey EsrEl1 = SysRegKey.Of(3, 0, 5, 2, 0);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Hlt_0xf000_exits_to_the_vmm_with_the_operation_and_parameter_and_pc_past_it(bool translate)
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2, HltSemihosting, AddX2, HltSemihosting);
        m.Init(v, CodeBase, new Arm64VcpuInit { Semihosting = true });
        v.Cpu.TranslationEnabled = translate;
        SetX(v, 0, 0x04);
        SetX(v, 1, 0x4000_8000);

        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Hypercall, v.RunState.ExitReason);
        Assert.Equal(HypercallFlags.ArmSemihosting, v.RunState.Hypercall.Flags);
        Assert.Equal(0x04UL, v.RunState.Hypercall.Nr);
        Assert.Equal(0x4000_8000UL, v.RunState.Hypercall.Arg0);
        Assert.Equal(CodeBase + 8, Pc(v));
        Assert.Equal(1UL, X(v, 2));

        // The VMM's result in X0; the guest goes on at the next instruction, to the next call.
        SetX(v, 0, 0x13);
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.Hypercall, v.RunState.ExitReason);
        Assert.Equal(0x13UL, v.RunState.Hypercall.Nr);
        Assert.Equal(CodeBase + 16, Pc(v));
        Assert.Equal(2UL, X(v, 2));
        Assert.Equal(translate && Arm64Cpu.NativeSupported, v.Cpu.Counters.BlocksTranslated > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Without_semihosting_hlt_0xf000_is_undefined(bool translate)
    {
        using var m = new TestMachine();
        var v = m.Start(AddX2, HltSemihosting, AddX2);
        v.Cpu.TranslationEnabled = translate;
        AssertUndefinedAt(m, v, CodeBase + 4);
        Assert.Equal(1UL, X(v, 2));
    }

    [Fact]
    public void With_semihosting_another_immediate_is_undefined()
    {
        using var m = new TestMachine();
        var v = m.Start(Hlt1);
        m.Init(v, CodeBase, new Arm64VcpuInit { Semihosting = true });
        AssertUndefinedAt(m, v, CodeBase);
    }

    [Fact]
    public void With_semihosting_hlt_0xf000_at_el0_is_undefined()
    {
        using var m = new TestMachine();
        var v = m.Start(HltSemihosting);
        m.Init(v, CodeBase, new Arm64VcpuInit { Semihosting = true });
        v.SetRegister(Arm64CoreRegister.Pstate, 0); // EL0t
        AssertUndefinedAt(m, v, CodeBase);
    }

    // The test machine's vectors power off: the UNDEFINED exception was taken with EC 0 and ELR at the HLT.
    private static void AssertUndefinedAt(TestMachine m, Arm64Vcpu v, ulong hlt)
    {
        Assert.Equal(RunResult.Ok, m.Run());
        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        Assert.Equal(Esr.EcUnknown, Esr.Class(v.GetSystemRegister(EsrEl1)));
        Assert.Equal(hlt, v.GetRegister(Arm64CoreRegister.ElrEl1));
    }
}

using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// KVM's forced emulation prefix (the <c>kvm.force_emulation_prefix</c> module parameter): with it on,
/// <c>ud2; .ascii "kvm"</c> before an instruction makes the #UD intercept skip the five bytes and send the
/// instruction to the emulator, as KVM's own tests do to reach emulator paths from guest code.
/// </summary>
public class ForcedEmulationTests
{
    private static readonly byte[] Prefix = [0x0F, 0x0B, (byte)'k', (byte)'v', (byte)'m'];

    [Fact]
    public void Prefixed_instruction_goes_to_the_emulator_when_the_prefix_is_on()
    {
        using var m = new KvmMachine();
        m.Vm.ForceEmulationPrefix = true;
        m.Vm.Memory.Write(CodeBase, [.. Prefix, 0x48, 0xFF, 0xC0, 0xF4]); // inc rax; hlt
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(1UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(1UL, m.Stat("insn_emulation"));
        Assert.Empty(m.Events());
    }

    [Fact]
    public void Prefix_is_an_ordinary_ud2_when_the_prefix_is_off()
    {
        using var m = new KvmMachine();
        m.SetSkip(6, 5);
        m.Vm.Memory.Write(CodeBase, [.. Prefix, 0xF4]);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 6 }, m.Events());
        Assert.Equal(CodeBase, m.LastRip(6));
    }

    [Fact]
    public void Forced_int3_with_tf_is_one_single_step_db_past_it_and_no_bp()
    {
        using var m = new KvmMachine();
        m.Vm.ForceEmulationPrefix = true;
        m.Vm.Memory.Write(CodeBase, [.. Prefix, 0xCC, 0xF4]); // int3; hlt
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 1 }, m.Events());
        Assert.Equal(CodeBase + 6, m.LastRip(1));
    }

    [Fact]
    public void Forced_fault_class_instruction_with_tf_is_the_fault_alone()
    {
        using var m = new KvmMachine();
        m.Vm.ForceEmulationPrefix = true;
        m.SetSkip(6, 2);
        m.Vm.Memory.Write(CodeBase, [.. Prefix, 0x0F, 0x0B, 0xF4]); // ud2 (emulated: #UD, a fault); hlt
        m.R.Rflags = 2 | Rflags.TF;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(new byte[] { 6 }, m.Events());
        Assert.Equal(CodeBase + 5, m.LastRip(6)); // at the emulated UD2, past the prefix
    }
}

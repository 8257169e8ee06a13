using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>Exits for a CPU that shut down and for what the CPU model does not implement.</summary>
public class ShutdownAndUnsupportedTests
{
    [Fact]
    public void Triple_fault_is_a_shutdown_exit()
    {
        using var m = new KvmMachine();
        m.Load(a => a.ud2());
        m.R.Idtr.Limit = 0; // every delivery faults: #UD -> #GP -> #DF -> shutdown
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Shutdown, m.Run.ExitReason);
    }

    [Fact]
    public void Something_the_cpu_model_does_not_implement_is_an_internal_error_with_a_message()
    {
        using var m = new KvmMachine();
        m.Load(a => a.int3());
        // In 32-bit protected mode the CPU model reports "task gates are not implemented" for a task
        // gate in the IDT; the hypervisor turns that into an internal error with the message.
        var r = m.Vcpu.GetRegisters();
        r.Cr0 = 0x11;
        r.Cr4 = 0;
        r.Efer = 0;
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x18, 0x00CF9B000000FFFF);
        r.Idtr.Base = 0x6000;
        r.Idtr.Limit = 0x7FF;
        m.Vcpu.SetRegisters(r);
        m.Vm.Memory.Write(0x6000UL + 3 * 8, 0x0000_8500_0040_0000UL); // 32-bit task gate, TSS selector 0x40
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.InternalError, m.Run.ExitReason);
        Assert.Equal(InternalErrorSuberror.UnexpectedExitReason, m.Run.Internal.Suberror);
        Assert.Contains("task gate", m.Run.Internal.Message);
    }
}

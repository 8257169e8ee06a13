using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-exit-fast-paths, WRMSR: the x2APIC's registers are written where the WRMSR happens,
/// once, each counted as the exit it is; one the local APIC refuses still raises #GP through the WRMSR exit.
/// </summary>
public class MsrFastPathTests
{
    [Fact]
    public void X2apic_msr_writes_complete_in_place_and_a_refused_one_raises_gp()
    {
        var (fast, fastHost) = Run(fastPath: true);
        var (slow, _) = Run(fastPath: false);
        Assert.Equal(4, fastHost.MsrOffers);
        Assert.Equal(3, fastHost.MsrCompleted);
        Assert.Equal(slow, fast); // every statistic as the WRMSR exits count them, the three completed in place included
    }

    /// <summary>The x2APIC program, its WRMSRs offered to the fast path (or none: every one exits); its statistics.</summary>
    private static (Dictionary<string, ulong> Stats, CountingFastExitHost Host) Run(bool fastPath)
    {
        using var m = new KvmMachine(irqchip: true);
        m.R.ApicBase |= 0xC00; // x2APIC mode, as the VMM sets it (KVM_SET_MSRS)
        var host = new CountingFastExitHost(m.Vcpu);
        m.Vcpu.Cpu.FastExits = fastPath ? host : null;
        m.Load(a =>
        {
            a.mov(ecx, 0x80F);   // SVR: software enable
            a.mov(eax, 0x1FF);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, 0x83F);   // SELF IPI, taken below
            a.mov(eax, 0x45);
            a.wrmsr();
            a.mov(__byte_ptr[(uint)EoiFlag], 0); // the handler does not EOI
            a.sti();
            a.nop();
            a.cli();
            a.mov(ecx, 0x80B);   // EOI
            a.xor(eax, eax);
            a.wrmsr();
            a.mov(ecx, 0x802);   // ID: read-only, #GP
            a.wrmsr();
            a.@out(0x80, al);
        });
        m.SetSkip(13, 2);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x45));
        Assert.False(m.Vcpu.Apic!.IsInService(0x45)); // the EOI was done
        Assert.Equal(1u, m.Count(13));
        Assert.Equal(1UL, m.Stat("irq_injections"));
        Assert.Equal(0UL, m.Stat("irq_exits"));
        var stats = new Dictionary<string, ulong>();
        foreach (var name in new[] { "exits", "io_exits", "insn_emulation", "irq_injections", "irq_exits", "req_event", "irq_window_exits" })
        {
            stats[name] = m.Stat(name);
        }

        return (stats, host);
    }
}

using System.Buffers.Binary;
using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Irqchip;

/// <summary>The local APIC: registers, priorities and EOI, the timer modes, x2APIC MSRs.</summary>
public class LocalApicTests
{
    private static uint Read(LocalApic apic, int reg)
    {
        Span<byte> b = stackalloc byte[4];
        apic.Read(null, (ulong)reg, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private static void Write(LocalApic apic, int reg, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        apic.Write(null, (ulong)reg, b);
    }

    [Fact]
    public void Reset_state_id_version_and_masked_lvts()
    {
        using var m = new KvmMachine(irqchip: true, vcpus: 2);
        var apic1 = ((SoftKvm.X86.Kvm.X86Vcpu)m.Vm.Vcpus[1]).Apic!;
        Assert.Equal(1u << 24, Read(apic1, 0x20));
        Assert.Equal(LocalApic.VersionValue, Read(apic1, 0x30));
        Assert.Equal(0xFFu, Read(apic1, 0xF0));
        Assert.Equal(0x10000u, Read(apic1, 0x320));
        Assert.Equal(0x10000u, Read(apic1, 0x350));
        Assert.Equal(0xFFFF_FFFFu, Read(apic1, 0xE0));
        Assert.False(apic1.SoftwareEnabled);
    }

    [Fact]
    public void Irr_isr_ppr_and_eoi_follow_priority_classes()
    {
        using var m = new KvmMachine(irqchip: true);
        var apic = m.Vcpu.Apic!;
        Write(apic, 0xF0, 0x1FF);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x62);
        Assert.True(apic.IsRequested(0x51));
        Assert.Equal(0x62, apic.HighestDeliverable());
        apic.Acknowledge(0x62);
        Assert.Equal(0x60u, apic.Ppr);
        Assert.Equal(-1, apic.HighestDeliverable()); // 0x51 is below the in-service class
        Assert.Equal(1u << 2, Read(apic, 0x100 + (0x62 >> 5) * 0x10) & (1u << 2));
        Write(apic, 0x80, 0x70);                      // TPR above everything
        Assert.Equal(0x70u, apic.Ppr);
        Write(apic, 0x80, 0);
        Write(apic, 0xB0, 0);                         // EOI clears 0x62
        Assert.False(apic.IsInService(0x62));
        Assert.Equal(0x51, apic.HighestDeliverable());
    }

    [Fact]
    public void Software_disabled_apic_drops_fixed_interrupts()
    {
        using var m = new KvmMachine(irqchip: true);
        var apic = m.Vcpu.Apic!;
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        Assert.False(apic.IsRequested(0x51));
        Write(apic, 0xF0, 0x1FF);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        Assert.True(apic.IsRequested(0x51));
    }

    /// <summary>
    /// Runs a guest that arms the timer and halts until <paramref name="expected"/> timer interrupts
    /// were counted. A periodic timer may tick once more between the handler's IRET and the guest's
    /// CLI on a loaded host, so for it the count is a lower bound (<paramref name="exact"/> false).
    /// </summary>
    private static void GuestTimerProgram(KvmMachine m, uint lvt, Action<Assembler> arm, uint expected, bool exact = true)
    {
        m.Load(a =>
        {
            var wait = a.CreateLabel();
            a.mov(rbx, 0xFEE00000UL);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__byte_ptr[(uint)EoiFlag], 1);
            a.mov(__dword_ptr[rbx + 0x3E0], 0xB);        // divide by 1
            a.mov(__dword_ptr[rbx + 0x320], lvt);
            arm(a);
            a.Label(ref wait);
            a.sti();
            a.hlt();
            a.cli();
            a.cmp(__dword_ptr[(uint)(CountBase + 0x30 * 4)], expected);
            a.jb(wait);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        if (exact)
            Assert.Equal(expected, m.Count(0x30));
        else
            Assert.InRange(m.Count(0x30), expected, uint.MaxValue);
    }

    [Fact]
    public void One_shot_timer_fires_once_and_wakes_the_halted_vcpu()
    {
        using var m = new KvmMachine(irqchip: true);
        // 100 ms: the vCPU must be in HLT when the timer fires for halt_wakeup to count (with 2 ms, a vCPU
        // thread descheduled between arming the timer and its HLT under a loaded host found the interrupt
        // already pending and never blocked).
        GuestTimerProgram(m, 0x30, a => a.mov(__dword_ptr[rbx + 0x380], 100_000_000), 1);
        Assert.Equal(0u, Read(m.Vcpu.Apic!, 0x390));                                   // expired
        Assert.True(m.Stat("halt_wakeup") >= 1);
        Assert.True(m.Stat("halt_exits") >= 1);
    }

    [Fact]
    public void Periodic_timer_fires_repeatedly()
    {
        using var m = new KvmMachine(irqchip: true);
        GuestTimerProgram(m, 0x20030, a => a.mov(__dword_ptr[rbx + 0x380], 1_000_000), 3, exact: false); // 1 ms period
        Assert.NotEqual(long.MaxValue, m.Vcpu.Apic!.TimerDeadline);                      // still armed
    }

    [Fact]
    public void Tsc_deadline_timer_fires_at_the_deadline()
    {
        using var m = new KvmMachine(irqchip: true);
        GuestTimerProgram(m, 0x40030, a =>
        {
            a.rdtsc();
            a.shl(rdx, 32);
            a.or(rax, rdx);
            a.add(rax, 2_000_000);
            a.mov(rdx, rax);
            a.shr(rdx, 32);
            a.mov(ecx, 0x6E0);
            a.wrmsr();
        }, 1);
        Assert.Equal(long.MaxValue, m.Vcpu.Apic!.TimerDeadline); // one-shot: disarmed after firing
    }

    [Fact]
    public void X2apic_msrs_give_the_registers_and_self_ipi()
    {
        using var m = new KvmMachine(irqchip: true);
        m.R.ApicBase |= 0xC00; // x2APIC mode, as the VMM sets it (KVM_SET_MSRS)
        m.Load(a =>
        {
            a.mov(ecx, 0x802);   // ID
            a.rdmsr();
            a.mov(r8, rax);
            a.mov(ecx, 0x80F);   // SVR
            a.mov(eax, 0x1FF);
            a.xor(edx, edx);
            a.wrmsr();
            a.mov(ecx, 0x83F);   // SELF IPI
            a.mov(eax, 0x45);
            a.wrmsr();
            a.mov(__byte_ptr[(uint)EoiFlag], 0);
            a.mov(ecx, 0x80B);   // EOI via MSR after the interrupt
            a.sti();
            a.nop();
            a.cli();
            a.xor(eax, eax);
            a.wrmsr();
            a.mov(ecx, 0x80D);   // LDR
            a.rdmsr();
            a.mov(r9, rax);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(0UL, m.R.Gpr[8]);
        Assert.Equal(1UL, m.R.Gpr[9]);   // cluster 0, bit 0
        Assert.Equal(1u, m.Count(0x45));
        Assert.False(m.Vcpu.Apic!.IsInService(0x45));
    }

    [Fact]
    public void X2apic_msrs_raise_gp_in_xapic_mode()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            a.mov(ecx, 0x802);
            a.rdmsr();
            a.@out(0x80, al);
        });
        m.SetSkip(13, 2);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(13));
    }

    [Fact]
    public void Logical_flat_destination_reaches_the_matching_apics()
    {
        using var m = new KvmMachine(irqchip: true, vcpus: 3);
        var apics = m.Vm.Vcpus.Select(v => ((SoftKvm.X86.Kvm.X86Vcpu)v).Apic!).ToArray();
        for (int i = 0; i < 3; i++)
        {
            Write(apics[i], 0xF0, 0x1FF);
            Write(apics[i], 0xD0, (1u << i) << 24);
        }

        // Logical destination 0b110: vCPUs 1 and 2.
        m.Vm.Irqchip!.SignalMsi(0xFEE00000 | (6 << 12) | 4, 0x66);
        Assert.False(apics[0].IsRequested(0x66));
        Assert.True(apics[1].IsRequested(0x66));
        Assert.True(apics[2].IsRequested(0x66));
    }
}

using Iced.Intel;
using SoftKvm.Core.Run;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// The entry evaluates INIT, SIPI and interrupt injection only under an event request (KVM's KVM_REQ_EVENT), so every
/// producer of a deliverable interrupt must make one. Each test lets the guest exit to the VMM with an OUT to an
/// unclaimed port (a VMM exit, as the exit benchmark's), makes an interrupt deliverable in one way, and checks that
/// the guest takes it at the next entries, before the instructions that follow, as it would on KVM.
/// </summary>
public class EventRequestTests
{
    private const ushort VmmPort = 0x80;
    private const ulong ApicPage = 0xFEE00000;

    private static void EnableApic(Assembler a, bool eoi = true)
    {
        a.mov(rbx, ApicPage);
        a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);         // SVR: software enabled
        a.mov(__byte_ptr[(uint)EoiFlag], eoi ? 1 : 0); // the handlers send the EOI
    }

    private static void Exit(Assembler a) => a.@out((byte)VmmPort, al);

    private static void RunToExit(KvmMachine m)
    {
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(VmmPort, m.Run.Io.Port);
    }

    [Fact]
    public void An_msi_from_the_vmm_between_runs_is_taken_at_the_next_entry()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            EnableApic(a);
            a.sti();
            a.Label(ref loop);
            Exit(a);
            a.jmp(loop);
        });
        RunToExit(m);
        RunToExit(m); // an idle round trip: the entry found nothing, the event is no longer evaluated
        Assert.Equal(0u, m.Count(0x51));
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
    }

    [Fact]
    public void An_nmi_message_between_runs_is_taken_at_the_next_entry()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            EnableApic(a);
            a.Label(ref loop);
            Exit(a);
            a.jmp(loop);
        });
        RunToExit(m);
        RunToExit(m);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x400); // delivery mode NMI
        RunToExit(m);
        Assert.Equal(1u, m.Count(2));
    }

    [Fact]
    public void A_lower_cr8_lets_a_held_interrupt_through_at_the_next_entry()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            EnableApic(a);
            a.mov(eax, 15);
            a.mov(cr8, rax);  // TPR 0xF0: everything held
            a.sti();
            Exit(a);          // 1: the VMM signals 0x51, held by the TPR
            Exit(a);          // 2: still held
            a.xor(eax, eax);
            a.mov(cr8, rax);  // TPR 0: 0x51 deliverable, nothing else says so
            Exit(a);          // 3: the entry after this exit injects it
            Exit(a);          // 4
            a.hlt();
        });
        RunToExit(m);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x51));
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x51));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
    }

    [Fact]
    public void A_tpr_write_to_the_apic_page_lets_a_held_interrupt_through()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            EnableApic(a);
            a.mov(__dword_ptr[rbx + 0x80], 0xF0); // TPR: everything held
            a.sti();
            Exit(a);                               // 1: the VMM signals 0x51, held by the TPR
            Exit(a);                               // 2: still held
            a.mov(__dword_ptr[rbx + 0x80], 0);     // TPR 0: 0x51 deliverable before the next instruction
            a.mov(__dword_ptr[(uint)Data], 0x77);  // (where the interrupt is taken)
            Exit(a);                               // 3
            a.hlt();
        });
        RunToExit(m);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x51));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
        Assert.Equal(LastRipAfterTprWrite(m), m.LastRip(0x51));
    }

    // The interrupt is taken at the instruction after the TPR write (the MOV to Data).
    private static ulong LastRipAfterTprWrite(KvmMachine m)
    {
        int before = Length(a =>
        {
            EnableApic(a);
            a.mov(__dword_ptr[rbx + 0x80], 0xF0);
            a.sti();
            Exit(a);
            Exit(a);
            a.mov(__dword_ptr[rbx + 0x80], 0);
        });
        return CodeBase + (ulong)before;
    }

    [Fact]
    public void An_eoi_lets_a_lower_priority_interrupt_through()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            EnableApic(a, eoi: false);            // 0x62 stays in service
            a.sti();
            Exit(a);                              // 1: the VMM signals 0x62
            Exit(a);                              // 2: the VMM signals 0x51, below 0x62's class
            Exit(a);                              // 3
            a.mov(__dword_ptr[rbx + 0xB0], 0);    // EOI of 0x62: 0x51 deliverable
            a.nop();
            Exit(a);                              // 4
            a.hlt();
        });
        RunToExit(m);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x62);
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x62));
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x51));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
    }

    [Fact]
    public void Enabling_the_apic_again_delivers_what_its_irr_kept()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            EnableApic(a);
            Exit(a);                                // 1 (IF=0): the VMM signals 0x51, requested, not taken
            a.mov(__dword_ptr[rbx + 0xF0], 0xFF);   // software disabled: nothing deliverable, IRR kept
            a.sti();
            Exit(a);                                // 2
            Exit(a);                                // 3: an idle entry
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);  // enabled again: 0x51 deliverable
            a.nop();
            Exit(a);                                // 4
            a.hlt();
        });
        RunToExit(m);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        RunToExit(m);
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x51));
        Assert.True(m.Vcpu.Apic!.IsRequested(0x51));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
    }

    [Fact]
    public void A_pic_line_raised_by_the_vmm_reaches_the_guest_through_lint0()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            EnableApic(a);
            a.mov(__dword_ptr[rbx + 0x350], 0x700);  // LINT0: ExtINT
            a.mov(al, 0x11); a.@out(0x20, al);
            a.mov(al, 0x20); a.@out(0x21, al);
            a.mov(al, 0x04); a.@out(0x21, al);
            a.mov(al, 0x03); a.@out(0x21, al);         // 8086 mode, auto-EOI
            a.mov(al, 0xFD); a.@out(0x21, al);         // IRQ 1 only
            a.sti();
            a.Label(ref loop);
            Exit(a);
            a.jmp(loop);
        });
        RunToExit(m);
        RunToExit(m);
        m.Vm.Irqchip!.SetIrq(1, true);
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x21));
    }

    [Fact]
    public void A_pic_interrupt_passes_an_apic_the_guest_disables_with_wrmsr()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            EnableApic(a, eoi: false);                  // LINT0 masked: the PIC's output does not pass (auto-EOI: no APIC EOI)
            a.mov(al, 0x11); a.@out(0x20, al);
            a.mov(al, 0x20); a.@out(0x21, al);
            a.mov(al, 0x04); a.@out(0x21, al);
            a.mov(al, 0x03); a.@out(0x21, al);          // 8086 mode, auto-EOI
            a.mov(al, 0xFD); a.@out(0x21, al);          // IRQ 1 only
            a.sti();
            Exit(a);                                    // 1: the VMM raises IRQ 1
            Exit(a);                                    // 2: held by LINT0
            a.mov(ecx, 0x1B);
            a.rdmsr();
            a.and(eax, ~0x800);                         // IA32_APIC_BASE.EN = 0: the PIC's INTR goes to the CPU
            a.wrmsr();
            a.nop();
            Exit(a);                                    // 3
            Exit(a);                                    // 4
            a.hlt();
        });
        RunToExit(m);
        m.Vm.Irqchip!.SetIrq(1, true);
        RunToExit(m);
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x21));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x21));
    }

    [Fact]
    public void The_apic_timer_fires_while_the_guest_only_exits_to_the_vmm()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            EnableApic(a);
            a.mov(__dword_ptr[rbx + 0x3E0], 0xB);       // divide by 1
            a.mov(__dword_ptr[rbx + 0x320], 0x30);      // one-shot, vector 0x30
            a.mov(__dword_ptr[rbx + 0x380], 100_000);   // 100 µs
            a.sti();
            a.Label(ref loop);
            Exit(a);
            a.jmp(loop);
        });

        // The timer fires at an entry once its deadline has passed: no bound on when, only that it comes (and once).
        for (int i = 0; i < 10_000_000 && m.Count(0x30) == 0; i++)
        {
            RunToExit(m);
        }

        Assert.Equal(1u, m.Count(0x30));
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x30));
    }

    [Fact]
    public void An_interrupt_held_by_a_closed_window_is_taken_when_the_vmm_sets_if()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            EnableApic(a);
            a.Label(ref loop);
            Exit(a);
            a.jmp(loop);
        });
        RunToExit(m);
        m.Vm.Irqchip!.SignalMsi(0xFEE00000, 0x51);
        RunToExit(m);
        RunToExit(m);
        Assert.Equal(0u, m.Count(0x51)); // IF=0
        var regs = m.Vcpu.GetRegisters();
        regs.Rflags |= 0x200;
        m.Vcpu.SetRegisters(regs);
        RunToExit(m);
        Assert.Equal(1u, m.Count(0x51));
    }

    [Fact]
    public void The_vmm_round_trip_allocates_nothing()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            EnableApic(a);
            a.sti();
            a.Label(ref loop);
            Exit(a);
            a.jmp(loop);
        });
        for (int i = 0; i < 10_000; i++)
        {
            RunToExit(m); // warm: blocks translated, caches filled
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            m.Vcpu.Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
    }
}

using System.Buffers.Binary;
using SoftKvm.Core.Run;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Irqchip;

/// <summary>IOAPIC, 8259 pair and 8254 PIT at register level and end to end through a guest.</summary>
public class PlatformDeviceTests
{
    private static void Write32(SoftKvm.Core.Io.IIoDevice d, ulong offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        d.Write(null, offset, b);
    }

    private static uint Read32(SoftKvm.Core.Io.IIoDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        d.Read(null, offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private static void Out8(SoftKvm.Core.Io.IIoDevice d, ulong offset, byte v) => d.Write(null, offset, [v]);

    private static byte In8(SoftKvm.Core.Io.IIoDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        d.Read(null, offset, b);
        return b[0];
    }

    [Fact]
    public void Ioapic_version_and_redirection_entries()
    {
        using var m = new KvmMachine(irqchip: true);
        var io = m.Vm.Irqchip!.IoApic;
        Write32(io, 0, 1);
        Assert.Equal(0x0017_0011u, Read32(io, 0x10));
        Write32(io, 0, 0x10 + 2 * 5);
        Assert.Equal(0x10000u, Read32(io, 0x10)); // masked at reset
        Write32(io, 0x10, 0x41);
        Write32(io, 0, 0x10 + 2 * 5 + 1);
        Write32(io, 0x10, 0x0100_0000);
        Assert.Equal(0x0100_0000_0000_0041UL, io.GetRedirection(5));
    }

    [Fact]
    public void Ioapic_edge_pin_delivers_once_per_rising_edge()
    {
        using var m = new KvmMachine(irqchip: true);
        var apic = m.Vcpu.Apic!;
        Write32(apic, 0xF0, 0x1FF);
        var io = m.Vm.Irqchip!.IoApic;
        Write32(io, 0, 0x10 + 2 * 4);
        Write32(io, 0x10, 0x34);
        m.Vm.Irqchip.SetIrq(4, true);
        Assert.True(apic.IsRequested(0x34));
        apic.Acknowledge(0x34);
        m.Vm.Irqchip.SetIrq(4, true); // still high: no new edge
        Assert.False(apic.IsRequested(0x34));
    }

    [Fact]
    public void Ioapic_level_pin_waits_for_eoi_and_refires_while_asserted()
    {
        using var m = new KvmMachine(irqchip: true);
        var apic = m.Vcpu.Apic!;
        Write32(apic, 0xF0, 0x1FF);
        var io = m.Vm.Irqchip!.IoApic;
        Write32(io, 0, 0x10 + 2 * 9);
        Write32(io, 0x10, 0x8000 | 0x39); // level, vector 0x39
        m.Vm.Irqchip.SetIrq(9, true);
        Assert.NotEqual(0UL, io.GetRedirection(9) & (1UL << 14)); // remote IRR
        apic.Acknowledge(0x39);
        Write32(apic, 0xB0, 0);                                     // EOI broadcast
        Assert.True(apic.IsRequested(0x39));                        // still asserted: fired again
        apic.Acknowledge(0x39);
        m.Vm.Irqchip.SetIrq(9, false);
        Write32(apic, 0xB0, 0);
        Assert.Equal(0UL, io.GetRedirection(9) & (1UL << 14));
        Assert.False(apic.IsRequested(0x39));
    }

    [Fact]
    public void Pic_initialisation_mask_acknowledge_and_eoi()
    {
        using var m = new KvmMachine(irqchip: true);
        var pic = m.Vm.Irqchip!.Pic;
        var master = pic.MasterPorts;
        var slave = pic.SlavePorts;
        Out8(master, 0, 0x11); Out8(master, 1, 0x20); Out8(master, 1, 0x04); Out8(master, 1, 0x01);
        Out8(slave, 0, 0x11); Out8(slave, 1, 0x28); Out8(slave, 1, 0x02); Out8(slave, 1, 0x01);
        Out8(master, 1, 0xFB); // only the cascade unmasked
        Out8(slave, 1, 0xFE);  // IRQ 8 unmasked
        pic.SetIrq(3, true);
        Assert.False(pic.Output);             // IRQ 3 is masked
        pic.SetIrq(8, true);
        Assert.True(pic.Output);
        Assert.Equal(0x28, pic.Acknowledge());
        Out8(slave, 0, 0x0B);                  // OCW3: read ISR
        Assert.Equal(1, In8(slave, 0));
        Out8(slave, 0, 0x20);                  // non-specific EOI
        Out8(master, 0, 0x20);
        Assert.Equal(0, In8(slave, 0));
        Assert.Equal(0xFB, In8(master, 1));
        Assert.Equal(0x27, pic.Acknowledge()); // nothing pending: spurious IRQ 7 of the master
    }

    [Fact]
    public void Pit_counter_latch_and_read_back()
    {
        using var m = new KvmMachine(irqchip: true);
        var pit = m.Vm.Irqchip!.Pit;
        Out8(pit, 3, 0x34);                   // counter 0, LSB/MSB, mode 2
        Out8(pit, 0, 0xFF);
        Out8(pit, 0, 0xFF);
        Out8(pit, 3, 0x00);                   // latch counter 0
        int first = In8(pit, 0) | (In8(pit, 0) << 8);
        Thread.Sleep(5);
        Out8(pit, 3, 0x00);
        int second = In8(pit, 0) | (In8(pit, 0) << 8);
        Assert.InRange(first, 1, 0xFFFF);
        Assert.NotEqual(first, second);        // it counts down (and may have wrapped)
        Out8(pit, 3, 0xE2);                   // read-back status of counter 0
        Assert.Equal(0x34, In8(pit, 0) & 0x3F);
        Assert.NotEqual(long.MaxValue, pit.NextDeadline);
    }

    [Fact]
    public void Pit_interrupts_reach_the_guest_through_the_pic_and_lint0_extint()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            var wait = a.CreateLabel();
            a.mov(rbx, 0xFEE00000UL);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__dword_ptr[rbx + 0x350], 0x700);     // LINT0: ExtINT
            a.mov(al, 0x11); a.@out(0x20, al);
            a.mov(al, 0x20); a.@out(0x21, al);
            a.mov(al, 0x04); a.@out(0x21, al);
            a.mov(al, 0x03); a.@out(0x21, al);            // 8086 mode, auto-EOI
            a.mov(al, 0xFE); a.@out(0x21, al);            // IRQ 0 only
            a.mov(al, 0x34); a.@out(0x43, al);            // counter 0, mode 2
            a.mov(ax, 1193); a.@out(0x40, al);            // about 1 ms
            a.mov(al, ah); a.@out(0x40, al);
            a.Label(ref wait);
            a.sti();
            a.hlt();
            a.cli();
            a.cmp(__dword_ptr[(uint)(CountBase + 0x20 * 4)], 3);
            a.jb(wait);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.True(m.Count(0x20) >= 3);
        Assert.True(m.Stat("irq_injections") >= 3);
    }

    [Fact]
    public void Line_from_a_device_reaches_the_guest_through_the_ioapic()
    {
        using var m = new KvmMachine(irqchip: true);
        var line = m.Vm.Irqchip!.GetLine(4);
        m.Load(a =>
        {
            a.mov(rbx, 0xFEE00000UL);
            a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
            a.mov(__byte_ptr[(uint)EoiFlag], 1);
            a.mov(rcx, 0xFEC00000UL);
            a.mov(__dword_ptr[rcx], 0x18);                // pin 4 low dword
            a.mov(__dword_ptr[rcx + 0x10], 0x44);         // vector 0x44, edge, fixed, physical 0
            a.@out(0x80, al);                              // the VMM raises the line now
            a.sti();
            a.hlt();
            a.@out(0x81, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        line.Pulse();
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal((ushort)0x81, m.Run.Io.Port);
        Assert.Equal(1u, m.Count(0x44));
    }
}

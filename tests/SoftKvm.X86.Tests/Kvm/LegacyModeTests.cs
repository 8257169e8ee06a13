using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>Skips and emulation outside 64-bit mode: the 32-bit EIP wrap, real-mode MMIO.</summary>
public class LegacyModeTests
{
    private static void Setup32(KvmMachine m, ulong csBase)
    {
        var r = m.Vcpu.GetRegisters();
        r.Cr0 = 0x11;
        r.Cr4 = 0;
        r.Efer = 0;
        ulong code = 0x00CF9B000000FFFF | ((csBase & 0xFFFFFF) << 16) | ((csBase >> 24) << 56);
        r.Seg[SegmentIndex.Cs] = SegmentRegister.FromDescriptor(0x18, code);
        for (int s = 0; s < 6; s++)
        {
            if (s != SegmentIndex.Cs)
            {
                r.Seg[s] = SegmentRegister.FromDescriptor(0x10, 0x00CF93000000FFFF);
            }
        }

        r.Rflags = 2;
        m.Vcpu.SetRegisters(r);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Skip_wraps_eip_at_4_gib_outside_64_bit_mode(bool fastMmio, bool withhold)
    {
        using var m = new KvmMachine();
        var fd = new EventFd();
        m.Vm.RegisterIoEvent(IoBusKind.Mmio, new IoEvent(Doorbell, 0, fd));
        m.Vcpu.Cpu.Controls.WithholdEptInstructionLength = withhold;
        Setup32(m, 0x100000);
        byte[] insn = fastMmio ? [0x89, 0x03] : [0xE6, 0x80]; // mov [ebx], eax / out 0x80, al
        m.Vm.Memory.Write(0xFFFFEUL, insn);                    // CS base + 0xFFFFFFFE, wrapped
        m.Vm.Memory.Write<byte>(0x100000, 0xF4);              // hlt at EIP 0
        m.R.Rip = 0xFFFF_FFFE;
        m.R.Gpr[Gpr.Rbx] = Doorbell;
        var result = m.Vcpu.Run();
        if (!fastMmio)
        {
            Assert.Equal(ExitReason.Io, m.Run.ExitReason);
            result = m.Vcpu.Run();
        }

        Assert.Equal(RunResult.Ok, result);
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(1UL, m.R.Rip);
        Assert.Equal(fastMmio ? 1UL : 0UL, fd.Count);
    }

    [Fact]
    public void Real_mode_mmio_is_emulated_and_counted_once_per_exit()
    {
        using var m = new KvmMachine();
        m.Vm.SetMemoryRegion(0, 0, 0xA0000); // 640 KiB: 0xA0000 and above are MMIO
        var r = m.Vcpu.GetRegisters();
        r.Cr0 = 0x10;
        r.Efer = 0;
        r.Cr4 = 0;
        for (int s = 0; s < 6; s++)
        {
            r.Seg[s] = SegmentRegister.RealMode(0, s == SegmentIndex.Cs ? 0x9Bu : 3u);
        }

        r.Seg[SegmentIndex.Ds] = SegmentRegister.RealMode(0xB800);
        r.Rip = 0x7C00;
        r.Rflags = 2;
        m.Vcpu.SetRegisters(r);
        m.Vm.Memory.Write(0x7C00UL, Assemble(16, 0x7C00, a =>
        {
            a.mov(ax, __word_ptr[0x10]);
            a.mov(__word_ptr[0x20], 0x0741);
            a.hlt();
        }));
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0xBEEF, seen));
        Assert.Equal(2, seen.Count);
        Assert.Equal((0xB8010UL, 2u, false, 0UL), seen[0]);
        Assert.Equal((0xB8020UL, 2u, true, 0x0741UL), seen[1]);
        Assert.Equal(0xBEEFUL, m.R.Gpr[Gpr.Rax] & 0xFFFF);
        Assert.Equal(2UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Pending_interrupt_behind_a_closed_window_counts_one_irq_window_exit()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            a.mov(rsi, 0xFEE00000UL);
            a.mov(__dword_ptr[rsi + 0xF0], 0x1FF);
            a.mov(__byte_ptr[(uint)EoiFlag], 1);
            a.mov(__dword_ptr[rsi + 0x300], 0x40041); // self IPI 0x41 while IF=0
            a.nop();
            a.nop();
            a.sti();
            a.nop();
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x41));
        Assert.Equal(1UL, m.Stat("irq_window_exits"));
        Assert.Equal(1UL, m.Stat("irq_injections"));
    }
}

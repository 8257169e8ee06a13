using Iced.Intel;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-exit-fast-paths: in-kernel device accesses completed inside the CPU model's run
/// are the exits they would have been, counted once, performed once, also when a later access of the same
/// instruction needs the VMM.
/// </summary>
public class FastPathTests
{
    /// <summary>The last 16 bytes of a page: the page after it has neither memory nor a device.</summary>
    private const ulong Device = 0xD001_0FF0;

    /// <summary>An in-kernel device whose every access is logged (reads answer 0x44332211 shifted by the offset's bytes).</summary>
    private sealed class LoggingDevice : IIoDevice
    {
        public readonly List<(bool Write, ulong Offset, int Length, ulong Value)> Accesses = [];

        public uint Register = 0x4433_2211;

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            ulong v = (ulong)Register >> (int)(8 * (offset & 3));
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(v >> (8 * i));
            }

            Accesses.Add((false, offset, data.Length, v));
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            ulong v = 0;
            for (int i = 0; i < data.Length; i++)
            {
                v |= (ulong)data[i] << (8 * i);
            }

            if (offset == 0 && data.Length == 4)
            {
                Register = (uint)v;
            }

            Accesses.Add((true, offset, data.Length, v));
        }
    }

    private static (KvmMachine Machine, LoggingDevice Device) MachineWithDevice(bool irqchip = false)
    {
        var m = new KvmMachine(irqchip);
        var d = new LoggingDevice();
        m.Vm.MmioBus.Register(Device, 16, d);
        return (m, d);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_device_registered_on_a_port_the_VMM_served_takes_the_next_access(bool translated)
    {
        // The vCPU remembers that the in-kernel PIO bus had nothing at port 0x80 (IoBusCache), and likewise the MMIO
        // page; devices registered there between two accesses must take the next ones.
        using var m = new KvmMachine(irqchip: true);
        Translate(m, translated);
        m.Load(a =>
        {
            a.mov(al, 0x11);
            a.@out(0x80, al);
            a.mov(eax, __dword_ptr[(uint)Device]);
            a.mov(al, 0x22);
            a.@out(0x80, al);
            a.mov(eax, __dword_ptr[(uint)Device]);
            a.@out(0x81, al); // the end: the VMM's
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason);
        Assert.Equal(Device, m.Run.Mmio.PhysAddr);

        var port = new LoggingDevice();
        var page = new LoggingDevice();
        m.Vm.PioBus.Register(0x80, 1, port);
        m.Vm.MmioBus.Register(Device, 16, page);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal((ushort)0x81, m.Run.Io.Port);
        Assert.Equal([(true, 0UL, 1, 0x22UL)], port.Accesses);
        Assert.Equal([(false, 0UL, 4, 0x44332211UL)], page.Accesses);
        Assert.Equal(0x44332211UL, m.R.Gpr[Gpr.Rax] & 0xFFFFFFFF);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void In_kernel_port_reads_in_a_loop_count_one_io_exit_and_one_exit_each(bool translated)
    {
        using var m = new KvmMachine(irqchip: true);
        Translate(m, translated);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(al, 0xA5);
            a.@out(0x21, al); // the PIC's mask register: in-kernel
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.@in(al, 0x21);
            a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al); // no device: the VMM's
        });
        m.R.Gpr[Gpr.Rbx] = 0;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        Assert.Equal(100UL * 0xA5, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(102UL, m.Stat("io_exits"));
        Assert.Equal(102UL, m.Stat("exits"));
        Assert.Equal(0UL, m.Stat("irq_exits"));
        Assert.Equal(0UL, m.Stat("insn_emulation"));
        Assert.Equal(translated, m.Vcpu.Cpu.BlockEntries > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Out_to_the_vmm_inside_a_loop_exits_once_per_iteration_and_retires_once(bool translated)
    {
        using var m = new KvmMachine(irqchip: true);
        Translate(m, translated);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 60);
            a.Label(ref loop);
            a.mov(eax, ecx);
            a.@out(0x80, al); // no device: the VMM's
            a.@in(al, 0x21);  // the PIC's: in-kernel
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x81, al); // the end
        });
        var seen = new List<byte>();
        while (true)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            Assert.Equal(ExitReason.Io, m.Run.ExitReason);
            if (m.Run.Io.Port != 0x80)
            {
                break;
            }

            seen.Add(m.Run.PioData[0]);
        }

        Assert.Equal(Enumerable.Range(1, 60).Reverse().Select(i => (byte)i), seen);
        Assert.Equal(121UL, m.Stat("io_exits"));
        Assert.Equal(translated, m.Vcpu.Cpu.BlockEntries > 0);
    }

    /// <summary>Every place a block at its first look-up, compiled on the vCPU's thread; or no blocks at all.</summary>
    internal static void Translate(KvmMachine m, bool on)
    {
        m.Vcpu.Cpu.Translation = on;
        m.Vcpu.Cpu.TranslationThreshold = 0;
        m.Vcpu.Cpu.TranslateSynchronously = true;
    }

    [Fact]
    public void Read_modify_write_of_an_in_kernel_device_is_one_read_one_write_and_one_emulation()
    {
        var (m, d) = MachineWithDevice();
        using var _ = m;
        m.Load(a =>
        {
            a.mov(rbx, Device);
            a.add(D[rbx], 0x10);
            a.mov(eax, D[rbx]);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(new[] { (false, 0UL, 4, 0x44332211UL), (true, 0UL, 4, 0x44332221UL), (false, 0UL, 4, 0x44332221UL) }, d.Accesses);
        Assert.Equal(0x44332221UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(2UL, m.Stat("insn_emulation")); // one per instruction, not per access
        Assert.Equal(3UL, m.Stat("exits"));
        Assert.Equal(0UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Movs_from_an_in_kernel_device_to_the_vmm_reads_the_device_once()
    {
        var (m, d) = MachineWithDevice();
        using var _ = m;
        m.Load(a =>
        {
            a.mov(rsi, Device);
            a.mov(rdi, Mmio);
            a.movsd();
            a.@out(0x80, al);
        });
        var seen = new List<(ulong, uint, bool, ulong)>();
        Assert.Equal(ExitReason.Io, m.RunAnsweringMmio(0, seen));
        Assert.Single(d.Accesses); // read by the fast path, replayed by the emulator, not read again
        Assert.Equal(new[] { (Mmio, 4u, true, 0x44332211UL) }, seen);
        Assert.Equal(Device + 4, m.R.Gpr[Gpr.Rsi]);
        Assert.Equal(Mmio + 4, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal(1UL, m.Stat("insn_emulation"));
        Assert.Equal(1UL, m.Stat("mmio_exits"));
        Assert.Equal(2UL, m.Stat("exits")); // the MOVS and the OUT
    }

    [Fact]
    public void Load_split_between_an_in_kernel_device_and_the_vmm_reads_the_device_once()
    {
        var (m, d) = MachineWithDevice();
        using var _ = m;
        m.Load(a =>
        {
            a.mov(rbx, Device + 12);
            a.mov(rax, Q[rbx]); // 4 bytes of the device, then 4 of the next page: the VMM's
            a.@out(0x80, al);
        });
        var seen = new List<(ulong, uint, bool, ulong)>();
        Assert.Equal(ExitReason.Io, m.RunAnsweringMmio(0x8877_6655, seen));
        Assert.Equal(new[] { (false, 12UL, 4, 0x44332211UL) }, d.Accesses);
        Assert.Equal(new[] { (Device + 16, 4u, false, 0UL) }, seen);
        Assert.Equal(0x8877_6655_4433_2211UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(1UL, m.Stat("insn_emulation"));
        Assert.Equal(1UL, m.Stat("mmio_exits"));
        Assert.Equal(2UL, m.Stat("exits"));
    }

    [Fact]
    public void Store_split_between_an_in_kernel_device_and_the_vmm_writes_the_device_once()
    {
        var (m, d) = MachineWithDevice();
        using var _ = m;
        m.Load(a =>
        {
            a.mov(rbx, Device + 12);
            a.mov(rax, 0x1122_3344_5566_7788UL);
            a.mov(Q[rbx], rax);
            a.@out(0x80, al);
        });
        var seen = new List<(ulong, uint, bool, ulong)>();
        Assert.Equal(ExitReason.Io, m.RunAnsweringMmio(0, seen));
        Assert.Equal(new[] { (true, 12UL, 4, 0x55667788UL) }, d.Accesses); // written by the fast path, not again by the emulator
        Assert.Equal(new[] { (Device + 16, 4u, true, 0x11223344UL) }, seen);
        Assert.Equal(1UL, m.Stat("insn_emulation"));
        Assert.Equal(1UL, m.Stat("mmio_exits"));
        Assert.Equal(2UL, m.Stat("exits"));
    }

    [Fact]
    public void Self_ipi_through_the_apic_page_is_taken_after_the_write_without_an_irq_exit()
    {
        using var m = new KvmMachine(irqchip: true);
        Action<Assembler> prefix = a =>
        {
            a.mov(rsi, 0xFEE00000UL);
            a.mov(D[rsi + 0xF0], 0x1FF);   // APIC software enable
            a.mov(B[(uint)EoiFlag], 1);    // the handler EOIs
            a.sti();
            a.nop();
            a.mov(D[rsi + 0x300], 0x40040); // self IPI, vector 0x40, fixed
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.nop();
            a.@out(0x80, al);
        });

        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x40));
        Assert.Equal(next, m.LastRip(0x40)); // delivered right after the ICR write, as at KVM's next entry
        Assert.False(m.Vcpu.Apic!.IsInService(0x40));
        Assert.Equal(0UL, m.Stat("irq_exits")); // the vCPU's own request is no kick
        Assert.Equal(1UL, m.Stat("irq_injections"));
        Assert.Equal(3UL, m.Stat("insn_emulation")); // the SVR and ICR writes, the handler's EOI
        Assert.Equal(4UL, m.Stat("exits"));          // and the OUT
    }
}

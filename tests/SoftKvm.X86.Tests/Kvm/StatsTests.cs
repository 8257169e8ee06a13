using Iced.Intel;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-mmio-exit-statistic and #statistics: exit statistics counted where KVM counts
/// them.
/// </summary>
public class StatsTests
{
    private static Dictionary<string, ulong> Snapshot(KvmMachine m)
    {
        var d = new Dictionary<string, ulong>();
        foreach (var s in m.Vm.GetStatistics())
        {
            d[s.Name] = s.Value;
        }

        return d;
    }

    [Fact]
    public void Emulation_failure_at_cpl0_counts_insn_emulation_fail_and_no_mmio_exit()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rax, Mmio);
            a.jmp(rax); // fetch from an unbacked address: the emulator cannot fetch it
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.InternalError, m.Run.ExitReason);
        Assert.Equal(InternalErrorSuberror.Emulation, m.Run.Internal.Suberror);
        Assert.Equal(1UL, m.Stat("insn_emulation_fail"));
        Assert.Equal(0UL, m.Stat("mmio_exits"));
        Assert.Equal(Mmio, m.R.Rip);
    }

    [Fact]
    public void Single_mmio_load_is_one_exit_and_one_mmio_exit()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.mov(eax, D[rbx + 0]);
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Mmio, m.Run.ExitReason);
        Assert.Equal(1UL, m.Stat("exits"));
        Assert.Equal(1UL, m.Stat("mmio_exits"));
        Assert.Equal(1UL, m.Stat("insn_emulation"));
        m.Run.Mmio.SetValue(1);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(1UL, m.Stat("mmio_exits")); // completion does not count again
        Assert.Equal(1UL, m.Stat("insn_emulation"));
    }

    [Fact]
    public void Load_split_at_a_page_boundary_is_two_exits_and_one_mmio_exit()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rbx, Mmio + 0xFFC);
            a.mov(rax, Q[rbx + 0]);
            a.hlt();
        });
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        var exits = 0;
        while (true)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            if (m.Run.ExitReason != ExitReason.Mmio)
            {
                break;
            }

            exits++;
            seen.Add((m.Run.Mmio.PhysAddr, m.Run.Mmio.Length, m.Run.Mmio.IsWrite, 0));
            m.Run.Mmio.SetValue(m.Run.Mmio.PhysAddr == Mmio + 0xFFC ? 0x44332211UL : 0x88776655UL);
            Assert.Equal(CodeBase + 10, m.R.Rip);
        }

        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.Equal(2, exits);
        Assert.Equal((Mmio + 0xFFC, 4u), (seen[0].Address, seen[0].Length));
        Assert.Equal((Mmio + 0x1000, 4u), (seen[1].Address, seen[1].Length));
        Assert.Equal(0x8877665544332211UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(1UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Cmps_with_adjacent_mmio_operands_counts_each_userspace_exit()
    {
        // Two memory operands that happen to be adjacent (rdi = rsi + 8) are two emulator reads, each a
        // userspace exit from its own emulation pass: KVM counts both (docs/kvm-semantics.md#x86-mmio-exit-statistic), adjacency or not.
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rsi, Mmio);
            a.mov(rdi, Mmio + 8);
            a.cmpsq();
            a.hlt();
        });
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0x1122334455667788, seen));
        Assert.Equal([(Mmio, 8u), (Mmio + 8, 8u)], seen.Select(s => (s.Address, s.Length)));
        Assert.Equal(Mmio + 8, m.R.Gpr[Gpr.Rsi]);
        Assert.Equal(2UL, m.Stat("mmio_exits"));
        Assert.Equal(1UL, m.Stat("insn_emulation"));
    }

    [Fact]
    public void Sixteen_byte_sse_load_is_two_exits_and_one_mmio_exit()
    {
        // One 16-byte operand: two 8-byte pieces of one read, sent as fragments (docs/kvm-semantics.md#x86-mmio-exit-statistic).
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.movdqu(xmm0, __xmmword_ptr[rbx]);
            a.hlt();
        });
        m.R.Cr4 |= 0x600; // OSFXSR, OSXMMEXCPT: SSE enabled
        m.Vcpu.Cpu.StateChanged();
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0x1122334455667788, seen));
        Assert.Equal([(Mmio, 8u), (Mmio + 8, 8u)], seen.Select(s => (s.Address, s.Length)));
        Assert.Equal(1UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Store_split_at_a_page_boundary_is_two_write_exits_after_retirement()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rbx, Mmio + 0xFFA);
            a.mov(rax, 0x8877665544332211UL);
            a.mov(Q[rbx + 0], rax);
            a.hlt();
        });
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0, seen));
        Assert.Equal(2, seen.Count);
        Assert.Equal((Mmio + 0xFFA, 6u, true, 0x665544332211UL), seen[0]);
        Assert.Equal((Mmio + 0x1000, 2u, true, 0x8877UL), seen[1]);
        Assert.Equal(1UL, m.Stat("mmio_exits"));
    }

    [Fact]
    public void Local_apic_read_with_the_irqchip_is_no_exit()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            a.mov(rbx, 0xFEE00000UL);
            a.mov(eax, D[rbx + 0x30]);
            a.mov(ecx, D[rbx + 0x20]);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(0x50014UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rcx]); // APIC id 0
        Assert.Equal(0UL, m.Stat("mmio_exits"));
        Assert.Equal(2UL, m.Stat("insn_emulation"));
    }

    [Fact]
    public void Out_without_a_device_is_one_io_exit_and_no_mmio_exit()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, 0x41);
            a.@out(dx, al);
            a.hlt();
        });
        var before = Snapshot(m);
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(IoDirection.Out, m.Run.Io.Direction);
        Assert.Equal((ushort)0x3F8, m.Run.Io.Port);
        Assert.Equal((byte)1, m.Run.Io.Size);
        Assert.Equal(1u, m.Run.Io.Count);
        Assert.Equal(4096UL, m.Run.Io.DataOffset);
        var after = Snapshot(m);
        Assert.Equal(before["io_exits"] + 1, after["io_exits"]);
        Assert.Equal(before["mmio_exits"], after["mmio_exits"]);
        Assert.Equal(before["exits"] + 1, after["exits"]);
    }

    [Fact]
    public void Budget_returns_count_as_exits_as_on_arm64()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 40_000); // 80,000 instructions: several instruction budgets
            a.Label(ref loop);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
        Assert.True(m.Stat("exits") >= 3, $"exits {m.Stat("exits")}");
    }

    [Fact]
    public void A_kick_that_stops_the_guest_counts_as_an_exit_and_a_signal_exit_as_on_arm64()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            var self = a.CreateLabel();
            a.Label(ref self);
            a.jmp(self);
        });
        using var kick = new Timer(_ => m.Vcpu.Kick(), null, 100, Timeout.Infinite);
        Assert.Equal(RunResult.Interrupted, m.Vcpu.Run());
        Assert.Equal(ExitReason.Intr, m.Run.ExitReason);
        Assert.Equal(1UL, m.Stat("signal_exits"));
        Assert.True(m.Stat("exits") >= 1);
    }

    [Fact]
    public void Reading_statistics_changes_nothing_and_only_zero_clears()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.@out(0x80, al);
            a.hlt();
        });
        m.Vcpu.Run();
        var first = Snapshot(m);
        var second = Snapshot(m);
        Assert.Equal(first, second);
        Assert.Throws<SoftKvm.Core.Stats.StatsException>(() => m.Vcpu.Stats.Write("io_exits", 5));
        m.Vcpu.Stats.Write("io_exits", 0);
        Assert.Equal(0UL, m.Stat("io_exits"));
    }

    [Fact]
    public void Io_exits_count_in_kernel_port_accesses_too()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            a.mov(al, 0xFF);
            a.@out(0x21, al); // PIC mask: handled in kernel
            a.@in(al, 0x21);
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(0xFFUL, m.R.Gpr[Gpr.Rax] & 0xFF);
        Assert.Equal(3UL, m.Stat("io_exits"));
    }

    [Fact]
    public void Schema_has_the_kvm_x86_names_after_the_generic_ones()
    {
        var names = SoftKvm.X86.Kvm.X86Stat.VcpuSchema.Descriptors.Select(d => d.Name).ToList();
        Assert.Equal("exits", names[0]);
        foreach (var n in new[] { "io_exits", "mmio_exits", "halt_exits", "irq_exits", "irq_window_exits", "insn_emulation",
            "insn_emulation_fail", "signal_exits", "halt_wakeup", "halt_wait_ns", "blocking" })
        {
            Assert.Contains(n, names);
        }

        Assert.Equal(SoftKvm.X86.Kvm.X86Stat.MmioExits, names.IndexOf("mmio_exits"));
        Assert.Equal(SoftKvm.X86.Kvm.X86Stat.UndefinedInstructions, names.IndexOf("undef_insn"));
    }
}

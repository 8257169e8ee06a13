using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;
using SoftKvm.Core.Published;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// Published device reads (issue 19, <see cref="PublishedReads"/>): a native block's IN of the PIC's mask register and load of
/// the IOAPIC's IOWIN complete in the block without the exit helper, with the registers and every statistic as the interpreter's
/// exits leave them, also while the guest changes what they read (IMR writes, a poll command, IOREGSEL, a redirection entry).
/// </summary>
public sealed class PublishedReadTests
{
    private static readonly string[] Counted = ["exits", "io_exits", "insn_emulation", "mmio_exits", "irq_exits", "req_event"];

    /// <summary>
    /// 40 rounds of: the PIC's IMR read by IN imm8 and IN DX, the slave's by IN DX, the IOAPIC's version and redirection entry 3 (low and high word)
    /// read through IOWIN, both IMRs written every 8th round and entry 3 every 4th, a poll command (OCW3) every 16th with its
    /// read; each value summed into a register. Then the VMM's port.
    /// </summary>
    private static (ulong[] Gprs, Dictionary<string, ulong> Stats, long HelperCalls) RunReadLoop(bool native, Action<KvmMachine>? setUp = null, bool il = false)
    {
        using var m = new KvmMachine(irqchip: true);
        FastPathTests.Translate(m, native || il);
        m.Vcpu.Cpu.Native = native;
        setUp?.Invoke(m);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            var noImr = a.CreateLabel();
            var noEntry = a.CreateLabel();
            var noPoll = a.CreateLabel();
            a.mov(rsi, 0xFEC00000UL);
            a.mov(edi, 40);
            a.xor(ebx, ebx);
            a.xor(ebp, ebp);
            a.xor(r8d, r8d);
            a.Label(ref loop);
            a.@in(al, 0x21);
            a.add(rbx, rax);
            a.mov(edx, 0x21);
            a.@in(al, dx);
            a.add(rbx, rax);
            a.mov(edx, 0xA1);
            a.@in(al, dx);                       // the slave's mask
            a.add(rbx, rax);
            a.mov(__dword_ptr[rsi], 1);          // IOREGSEL: the version
            a.mov(ecx, __dword_ptr[rsi + 0x10]);
            a.add(rbp, rcx);
            a.mov(__dword_ptr[rsi], 0x16);       // entry 3, low word
            a.mov(r9d, __dword_ptr[rsi + 0x10]);
            a.add(rbp, r9);
            a.mov(__dword_ptr[rsi], 0x17);       // entry 3, high word
            a.mov(r10, __qword_ptr[rsi + 0x08]); // (not a published read: IOREGSEL's other offset, 8 bytes)
            a.mov(r10d, __dword_ptr[rsi + 0x10]);
            a.add(rbp, r10);
            a.test(edi, 7);
            a.jnz(noImr);
            a.mov(eax, edi);
            a.@out(0x21, al);                    // a new IMR
            a.@out(0xA1, al);                    // and the slave's
            a.Label(ref noImr);
            a.test(edi, 3);
            a.jnz(noEntry);
            a.mov(__dword_ptr[rsi], 0x17);
            a.mov(__dword_ptr[rsi + 0x10], edi); // entry 3's destination: the round
            a.Label(ref noEntry);
            a.test(edi, 15);
            a.jnz(noPoll);
            a.mov(al, 0x0C);
            a.@out(0x20, al);                    // OCW3: poll; the next read of the mask port polls
            a.@in(al, 0x21);
            a.add(r8, rax);
            a.Label(ref noPoll);
            a.dec(edi);
            a.jnz(loop);
            a.@out(0x80, al);                    // the VMM's
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        var stats = Counted.ToDictionary(n => n, m.Stat);
        return (Enumerable.Range(0, 16).Select(g => m.R.Gpr[g]).ToArray(), stats, m.Vcpu.Cpu.NativeExitHelperCalls);
    }

    [Fact]
    public void Published_pic_and_ioapic_reads_leave_registers_and_statistics_as_the_interpreter_while_the_guest_changes_them()
    {
        var (nativeGprs, nativeStats, helperCalls) = RunReadLoop(native: true);
        var (interpretedGprs, interpretedStats, _) = RunReadLoop(native: false);
        Assert.Equal(interpretedGprs, nativeGprs);
        Assert.Equal(interpretedStats, nativeStats);
        Assert.Equal(40UL * 3 + 5 * 2 + 2 * 2 + 1, nativeStats["io_exits"]);             // every port access counted once, the VMM's OUT too
        Assert.True(nativeGprs[Gpr.Rbp] > 40UL * 0x170011, $"{nativeGprs[Gpr.Rbp]:X}");   // the version read each round
        // The helper takes per round the 3 IOREGSEL stores and the 8-byte load, and the 10 IMR writes, 10 entry writes (2 stores
        // each), 2 polls (OUT and IN) and the VMM's OUT: 195. The 6 published reads of a round do not (the first ones run in
        // the interpreter, which fills the TLB).
        Assert.InRange(helperCalls, 185, 195);
    }

    [Fact]
    public void Published_reads_in_il_blocks_leave_registers_and_statistics_as_the_interpreter_while_the_guest_changes_them()
    {
        // (X86Cpu.BlockPublished.cs: the IL tier, as 32-bit guests run, reads the same tables)
        var (ilGprs, ilStats, _) = RunReadLoop(native: false, il: true);
        var (interpretedGprs, interpretedStats, _) = RunReadLoop(native: false);
        Assert.Equal(interpretedGprs, ilGprs);
        Assert.Equal(interpretedStats, ilStats);
        Assert.Equal(40UL * 3 + 5 * 2 + 2 * 2 + 1, ilStats["io_exits"]);
    }

    [Fact]
    public void Timed_exits_in_il_blocks_count_as_the_interpreter()
    {
        var (gprs, stats, _) = RunReadLoop(native: false, m => m.Vcpu.TimeExits(), il: true);
        var (interpretedGprs, interpretedStats, _) = RunReadLoop(native: false);
        Assert.Equal(interpretedGprs, gprs);
        Assert.Equal(interpretedStats, stats);
    }

    [Fact]
    public void A_fast_path_host_other_than_the_vcpu_sees_every_read_offered()
    {
        CountingFastExitHost? host = null;
        var (gprs, stats, helperCalls) = RunReadLoop(native: true, m => m.Vcpu.Cpu.FastExits = host = new CountingFastExitHost(m.Vcpu));
        var (interpretedGprs, interpretedStats, _) = RunReadLoop(native: false);
        Assert.Equal(interpretedGprs, gprs);
        Assert.Equal(interpretedStats, stats);
        Assert.Equal(40 * 3 + 5 * 2 + 2 * 2 + 1, host!.PortOffers); // every IN and OUT, the VMM's too
        Assert.True(helperCalls >= 425, $"{helperCalls} helper calls"); // (195 and the 6 reads of each round)
    }

    [Fact]
    public void Timed_exits_take_the_helper_for_every_read()
    {
        var (gprs, stats, helperCalls) = RunReadLoop(native: true, m => m.Vcpu.TimeExits());
        var (interpretedGprs, interpretedStats, _) = RunReadLoop(native: false);
        Assert.Equal(interpretedGprs, gprs);
        Assert.Equal(interpretedStats, stats);
        Assert.True(helperCalls >= 425, $"{helperCalls} helper calls"); // (195 and the 6 reads of each round)
    }

    [Fact]
    public void The_pic_and_ioapic_publish_what_a_read_returns()
    {
        using var m = new KvmMachine(irqchip: true);
        var chip = m.Vm.Irqchip!;
        var reads = chip.PublishedReads;
        Assert.Equal(0UL, Port(reads, 0x21));
        chip.Pic.MasterPorts.Write(null, 1, [0xB7]);
        chip.Pic.SlavePorts.Write(null, 1, [0x42]);
        Assert.Equal(0xB7UL, Port(reads, 0x21));
        Assert.Equal(0x42UL, Port(reads, 0xA1));
        chip.Pic.MasterPorts.Write(null, 0, [0x0C]); // OCW3: poll
        Assert.Null(Port(reads, 0x21));
        var b = new byte[1];
        chip.Pic.MasterPorts.Read(null, 1, b);       // the poll
        Assert.Equal(0xB7UL, Port(reads, 0x21));

        var io = chip.IoApic;
        Assert.Equal(0UL, Window(reads)); // IOREGSEL 0: the id
        io.Write(null, 0, BitConverter.GetBytes(1u));
        Assert.Equal(0x170011UL, Window(reads));
        io.Write(null, 0, BitConverter.GetBytes(0x12u));           // entry 1, low word
        Assert.Equal(0x10000UL, Window(reads)); // masked
        io.Write(null, 0x10, BitConverter.GetBytes(0xA030u));     // level-triggered vector 0x30, unmasked
        Assert.Equal(0xA030UL, Window(reads));
        io.SetPin(1, true);                                         // remote IRR set by the delivery
        Assert.Equal(0xE030UL, Window(reads));
        io.SetPin(1, false);
        io.EndOfInterrupt(0x30);                                    // and cleared by the EOI
        Assert.Equal(0xA030UL, Window(reads));
        io.Write(null, 0, BitConverter.GetBytes(0u));
        io.Write(null, 0x10, BitConverter.GetBytes(0x0500_0000u)); // the id
        Assert.Equal(0x0500_0000UL, Window(reads));
    }

    /// <summary>The value published for the 1-byte read of <paramref name="port"/>, or null.</summary>
    private static ulong? Port(PublishedReads reads, ushort port) => reads.TryReadPort(port, 1, out ulong v) ? v : null;

    /// <summary>The value published for IOWIN's 32-bit read, or null.</summary>
    private static ulong? Window(PublishedReads reads) => reads.TryReadMmio(0xFEC00010, 4, out ulong v) ? v : null;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Published_reads_in_a_native_or_il_loop_allocate_nothing(bool native)
    {
        using var m = new KvmMachine(irqchip: true);
        FastPathTests.Translate(m, true);
        m.Vcpu.Cpu.Native = native;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, 0xFEC00000UL);
            a.mov(__dword_ptr[rsi], 1);
            a.mov(ecx, 1000);
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[rsi + 0x10]);
            a.@in(al, 0x21);
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al);
        });

        long allocated = long.MaxValue;
        for (int round = 0; round < 8 && allocated != 0; round++)
        {
            m.R.Rip = CodeBase;
            long before = GC.GetAllocatedBytesForCurrentThread();
            m.Vcpu.Run();
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(0, allocated);
        Assert.True(m.Stat("io_exits") >= 1000);
    }
}

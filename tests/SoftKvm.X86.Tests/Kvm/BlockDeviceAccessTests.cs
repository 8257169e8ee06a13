using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-exit-fast-paths inside IL blocks (X86Cpu.BlockDevice.cs): a MOV to or from a device page
/// and an IN or OUT run in the block, go to the fast path once, count as the exits they are, and the loop around them
/// stays in the block; an access for the VMM ends the run with its exit, offered once; a request the device makes is
/// taken at the boundary right after the access.
/// </summary>
public class BlockDeviceAccessTests
{
    /// <summary>An in-kernel device page: reads answer 0x100 plus the offset, every access is logged.</summary>
    private protected sealed class LoggingDevice : IIoDevice
    {
        public readonly List<(bool Write, ulong Offset, ulong Value)> Accesses = [];

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            ulong v = 0x100 + offset;
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(v >> (8 * i));
            }

            Accesses.Add((false, offset, v));
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            ulong v = 0;
            for (int i = 0; i < data.Length; i++)
            {
                v |= (ulong)data[i] << (8 * i);
            }

            Accesses.Add((true, offset, v));
        }
    }

    private protected const ulong Device = 0xD001_0000;

    /// <summary>Whether the blocks are native x86-64 code (<see cref="NativeBlockDeviceAccessTests"/>) instead of IL blocks.</summary>
    private protected virtual bool NativeBlocks => false;

    /// <summary>IL blocks (native blocks in <see cref="NativeBlockDeviceAccessTests"/>), each place compiled at its first look-up on the vCPU's thread.</summary>
    private protected CountingFastExitHost IlBlocks(KvmMachine m)
    {
        FastPathTests.Translate(m, true);
        m.Vcpu.Cpu.Native = NativeBlocks;
        var host = new CountingFastExitHost(m.Vcpu);
        m.Vcpu.Cpu.FastExits = host;
        return host;
    }

    [Fact]
    public void Device_loads_and_stores_in_a_translated_loop_run_in_the_block_once_each()
    {
        using var m = new KvmMachine(irqchip: true);
        var d = new LoggingDevice();
        m.Vm.MmioBus.Register(Device, 0x100, d);
        var host = IlBlocks(m);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, Device);
            a.mov(ecx, 50);
            a.Label(ref loop);
            a.mov(eax, D[rsi + 0x10]);  // MOV load: the pre-decoded way
            a.mov(edx, D[rsi + 0x14]);
            a.mov(D[rsi + 0x18], ecx);  // MOV store
            a.mov(D[rsi + 0x1C], 0x77); // of an immediate
            a.add(ebx, eax);
            a.add(ebx, edx);
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al); // the VMM's
        });
        m.R.Gpr[Gpr.Rbx] = 0;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(50UL * (0x110 + 0x114), m.R.Gpr[Gpr.Rbx]);
        var expected = Enumerable.Range(0, 50).SelectMany(k => new[]
        {
            (false, 0x10UL, 0x110UL), (false, 0x14UL, 0x114UL), (true, 0x18UL, (ulong)(50 - k)), (true, 0x1CUL, 0x77UL),
        });
        Assert.Equal(expected, d.Accesses); // each once, in order
        Assert.Equal(200, host.MmioOffers);
        Assert.Equal(200UL, m.Stat("insn_emulation"));
        Assert.Equal(201UL, m.Stat("exits")); // and the OUT
        Assert.Equal(0UL, m.Stat("mmio_exits"));
        Assert.InRange(m.Vcpu.Cpu.BlockEntries, 1, 5); // only the first read and write left (to fill the TLB), not 50 iterations
        Assert.True(m.Vcpu.Cpu.TranslatedInstructions >= 49 * 8, $"translated {m.Vcpu.Cpu.TranslatedInstructions}"); // all but the first iteration
    }

    [Fact]
    public void In_kernel_ports_in_a_translated_loop_run_in_the_block()
    {
        using var m = new KvmMachine(irqchip: true);
        var host = IlBlocks(m);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(al, 0xA5);
            a.mov(ecx, 100);
            a.mov(edx, 0x21);
            a.Label(ref loop);
            a.@out(dx, al);   // the PIC's mask register: in-kernel, the port in DX
            a.@in(al, 0x21); // and an immediate port
            a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al); // the VMM's
        });
        m.R.Gpr[Gpr.Rbx] = 0;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        Assert.Equal(100UL * 0xA5, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(201, host.PortOffers);
        Assert.Equal(201UL, m.Stat("io_exits"));
        Assert.Equal(201UL, m.Stat("exits"));
        Assert.Equal(0UL, m.Stat("insn_emulation"));
        Assert.InRange(m.Vcpu.Cpu.BlockEntries, 1, 2);
    }

    [Fact]
    public void Vmm_loads_and_stores_in_a_translated_loop_exit_once_per_access_offered_once()
    {
        using var m = new KvmMachine(irqchip: true);
        var host = IlBlocks(m);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, Mmio); // no device: the VMM's
            a.mov(ecx, 30);
            a.Label(ref loop);
            a.mov(eax, D[rsi + 8]);
            a.add(ebx, eax);
            a.mov(D[rsi + 16], ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al);
        });
        m.R.Gpr[Gpr.Rbx] = 0;
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Io, m.RunAnsweringMmio(7, seen));
        Assert.Equal(30UL * 7, m.R.Gpr[Gpr.Rbx]);
        var expected = Enumerable.Range(0, 30).SelectMany(k => new[] { (Mmio + 8, 4u, false, 0UL), (Mmio + 16, 4u, true, (ulong)(30 - k)) });
        Assert.Equal(expected, seen);
        Assert.Equal(60, host.MmioOffers); // a block's offer is not repeated by the interpreter, nor by the emulator
        Assert.Equal(60UL, m.Stat("mmio_exits"));
        Assert.Equal(60UL, m.Stat("insn_emulation"));
        Assert.True(m.Vcpu.Cpu.BlockEntries > 0);
    }

    [Fact]
    public void A_self_ipi_stored_in_a_translated_block_is_taken_right_after_the_store()
    {
        using var m = new KvmMachine(irqchip: true);
        IlBlocks(m);
        Action<Iced.Intel.Assembler> prefix = a =>
        {
            var block = a.CreateLabel();
            a.mov(rsi, 0xFEE00000UL);
            a.mov(D[rsi + 0xF0], 0x1FF); // APIC software enable
            a.mov(B[(uint)EoiFlag], 1);  // the handler EOIs
            a.sti();
            a.nop();
            a.jmp(block);                // a taken branch: a block starts at the ICR write
            a.Label(ref block);
            a.mov(D[rsi + 0x300], 0x40040); // self IPI, vector 0x40, fixed
        };
        ulong next = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.inc(ebx);
            a.inc(ebx);
            a.@out(0x80, al);
        });
        m.R.Gpr[Gpr.Rbx] = 0;
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x40));
        Assert.Equal(next, m.LastRip(0x40)); // not after the INCs the block goes on with
        Assert.Equal(2UL, m.R.Gpr[Gpr.Rbx]);
        Assert.Equal(0UL, m.Stat("irq_exits"));
        Assert.Equal(1UL, m.Stat("irq_injections"));
        Assert.True(m.Vcpu.Cpu.BlockEntries > 0);
    }

    [Fact]
    public void Device_accesses_and_vmm_exits_of_translated_blocks_allocate_nothing()
    {
        using var m = new KvmMachine(irqchip: true);
        IlBlocks(m);
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(rsi, 0xFEC00000UL); // the IOAPIC
            a.mov(rdi, Mmio);         // the VMM's
            a.mov(ecx, 200);
            a.Label(ref loop);
            a.mov(D[rsi], 1);         // IOREGSEL: the version
            a.mov(eax, D[rsi + 0x10]);
            a.@in(al, 0x21);          // the PIC
            a.mov(edx, D[rdi]);       // the VMM: an exit and its completion
            a.dec(ecx);
            a.jnz(loop);
            a.@out(0x80, al);         // the VMM's port
        });

        // Warm up until the tiered JIT has settled (its call-counting stubs allocate on first calls; the first run
        // compiles the blocks); then a whole run of the loop, its 200 VMM exits included, must not allocate at all.
        long allocated = long.MaxValue;
        int mmioExits = 0;
        ExitReason last = ExitReason.Unknown;
        for (int round = 0; round < 8 && allocated != 0; round++)
        {
            m.R.Rip = CodeBase;
            mmioExits = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (m.Vcpu.Run() == RunResult.Ok && (last = m.Run.ExitReason) == ExitReason.Mmio) // (no assertions inside: they allocate)
            {
                m.Run.Mmio.SetValue(0x1234);
                mmioExits++;
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(ExitReason.Io, last);
        Assert.Equal(200, mmioExits);
        Assert.Equal(0x1234UL, m.R.Gpr[Gpr.Rdx]);
        Assert.Equal(0, allocated);
        Assert.True(m.Vcpu.Cpu.BlockEntries > 0);
    }
}

using Iced.Intel;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// docs/kvm-semantics.md#x86-exit-fast-paths, what follows a declined offer: a VMM read the fast path declined is
/// the emulator's first pass (numbered as the emulator numbers it), an IN or OUT a translated block offered is not
/// offered again, device pages cached in the TLB follow the guest's invalidations, and an EOI that leaves an
/// interrupt to inject still sends the CPU back to the run loop.
/// </summary>
public class DeclinedAccessTests
{
    /// <summary>An in-kernel device page whose reads answer 0xDE71CE00 plus the number of reads so far.</summary>
    private sealed class CountingDevice : IIoDevice
    {
        public int Reads;

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            uint v = 0xDE71_CE00u + (uint)Reads++;
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(v >> (8 * i));
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }

    [Fact]
    public void Sixteen_byte_vmm_loads_one_after_another_count_one_mmio_exit_each()
    {
        // Each load's two 8-byte pieces are one access of one emulation pass: the access number the run gives
        // the first piece must be the one the emulator gives the second (the run's numbering starts again at
        // every instruction), else the second piece would count as an exit of its own.
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rbx, Mmio);
            a.movdqu(xmm0, __xmmword_ptr[rbx]);
            a.movdqu(xmm1, __xmmword_ptr[rbx + 0x10]);
            a.movdqu(xmm2, __xmmword_ptr[rbx + 0x20]);
            a.hlt();
        });
        m.R.Cr4 |= 0x600; // OSFXSR, OSXMMEXCPT: SSE enabled
        m.Vcpu.Cpu.StateChanged();
        var seen = new List<(ulong Address, uint Length, bool Write, ulong Value)>();
        Assert.Equal(ExitReason.Hlt, m.RunAnsweringMmio(0x1122334455667788, seen));
        Assert.Equal(6, seen.Count);
        Assert.Equal(3UL, m.Stat("mmio_exits"));
        Assert.Equal(3UL, m.Stat("insn_emulation"));
        Assert.Equal(0x1122334455667788UL, m.R.Xmm[2].Lo);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_out_to_the_vmm_is_offered_to_the_fast_path_once_also_in_a_translated_block(bool translated)
    {
        using var m = new KvmMachine(irqchip: true);
        FastPathTests.Translate(m, translated);
        var host = new CountingFastExitHost(m.Vcpu);
        m.Vcpu.Cpu.FastExits = host;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 40);
            a.Label(ref loop);
            a.mov(eax, ecx);
            a.@out(0x80, al); // no device: the VMM's
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

        Assert.Equal(Enumerable.Range(1, 40).Reverse().Select(i => (byte)i), seen);
        Assert.Equal(41, host.PortOffers); // a block's offer is not repeated by the interpreter
        Assert.Equal(41UL, m.Stat("io_exits"));
        Assert.Equal(translated, m.Vcpu.Cpu.BlockEntries > 0);
    }

    [Fact]
    public void A_cached_device_page_follows_invlpg_and_a_cr3_reload()
    {
        const ulong linear = 0x3FF000;               // the last page of the page-table-mapped [2 MiB, 4 MiB)
        const ulong pte = Pt + 0x1FF * 8;
        const ulong device = 0xD002_0000;
        using var m = new KvmMachine(irqchip: true);
        var d = new CountingDevice();
        m.Vm.MmioBus.Register(device, 0x1000, d);
        m.Vm.Memory.Write(pte, device | 3);
        m.Vm.Memory.Write<uint>(linear, 0x4A4A_4A4A);
        m.Load(a =>
        {
            a.mov(rbx, linear);
            a.mov(eax, D[rbx]);             // the device (its page enters the TLB)
            a.mov(esi, D[rbx + 4]);         // the device again, through the cached page
            a.mov(rdx, linear | 3);
            a.mov(Q[(uint)pte], rdx);       // the page becomes RAM
            a.invlpg(B[rbx]);
            a.mov(ecx, D[rbx]);             // RAM
            a.mov(rdx, device | 3);
            a.mov(Q[(uint)pte], rdx);       // the device's again
            a.mov(rdx, cr3);
            a.mov(cr3, rdx);
            a.mov(edi, D[rbx]);             // the device
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(0xDE71_CE00UL, m.R.Gpr[Gpr.Rax]);
        Assert.Equal(0xDE71_CE01UL, m.R.Gpr[Gpr.Rsi]);
        Assert.Equal(0x4A4A_4A4AUL, m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(0xDE71_CE02UL, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal(3, d.Reads);
    }

    [Fact]
    public void An_eoi_that_leaves_an_interrupt_to_inject_takes_it_at_the_first_boundary_that_allows_it()
    {
        // Two self IPIs while IF=0; 0x50 is taken first, its handler's EOI makes 0x40 deliverable (the handler runs
        // with IF=0, so at the boundary after its IRETQ). The EOI's event request is not one to take in place.
        using var m = new KvmMachine(irqchip: true);
        Action<Assembler> prefix = a =>
        {
            a.mov(rsi, 0xFEE00000UL);
            a.mov(D[rsi + 0xF0], 0x1FF);    // APIC software enable
            a.mov(B[(uint)EoiFlag], 1);     // the handlers EOI
            a.mov(D[rsi + 0x300], 0x40040); // self IPI, vector 0x40
            a.mov(D[rsi + 0x300], 0x40050); // self IPI, vector 0x50
            a.sti();
            a.nop();
        };
        ulong second = CodeBase + (ulong)Length(prefix);
        m.Load(a =>
        {
            prefix(a);
            a.nop();
            a.nop();
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal(1u, m.Count(0x50));
        Assert.Equal(1u, m.Count(0x40));
        Assert.Equal(second, m.LastRip(0x50));
        Assert.Equal(second, m.LastRip(0x40)); // 0x50's IRETQ returned there, and 0x40 came before the NOP
        Assert.Equal([0x50, 0x40], m.Events());
        Assert.Equal(2UL, m.Stat("irq_injections"));
        Assert.Equal(0UL, m.Stat("irq_exits"));
    }
}

using SoftKvm.Core.Run;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static SoftKvm.X86.Tests.Kvm.KvmMachine;

namespace SoftKvm.X86.Tests.Kvm;

/// <summary>
/// String port IO as KVM's emulator does it: REP INS reads a batch of elements per exit (the PIO data page,
/// <c>io.count</c> elements, at most KVM's 1024-byte read-ahead and the bytes left in RDI's page), REP OUTS
/// one element per exit; <c>io_exits</c> counts the IO VM exits, one per batch.
/// </summary>
public class StringIoTests
{
    private const ulong Buffer = 0x300000;
    private const ushort NoDevice = 0x3F8;

    /// <summary>Runs until HLT, answering each IN exit with consecutive bytes; returns the (count, size) of every exit.</summary>
    private static List<(uint Count, byte Size)> RunAnsweringIns(KvmMachine m)
    {
        var exits = new List<(uint, byte)>();
        byte next = 0;
        while (true)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            if (m.Run.ExitReason != ExitReason.Io)
            {
                Assert.Equal(ExitReason.Hlt, m.Run.ExitReason);
                return exits;
            }

            ref var io = ref m.Run.Io;
            Assert.Equal(IoDirection.In, io.Direction);
            Assert.Equal(4096UL, io.DataOffset);
            exits.Add((io.Count, io.Size));
            for (int i = 0; i < io.Count * io.Size; i++)
            {
                m.Run.PioData[i] = next++;
            }
        }
    }

    [Fact]
    public void Rep_insb_is_one_exit_with_the_whole_count()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rdi, Buffer);
            a.mov(ecx, 100);
            a.mov(dx, NoDevice);
            a.rep.insb();
            a.hlt();
        });
        var exits = RunAnsweringIns(m);
        Assert.Equal([(100u, (byte)1)], exits);
        var data = new byte[100];
        m.Vm.Memory.Read(Buffer, data);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (byte)i), data);
        Assert.Equal(Buffer + 100, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal(0UL, m.R.Gpr[Gpr.Rcx]);
        Assert.Equal(1UL, m.Stat("io_exits"));
        Assert.Equal(1UL, m.Stat("insn_emulation"));
    }

    [Fact]
    public void Rep_insw_batches_follow_kvms_page_and_read_ahead_limits()
    {
        // RDI at page offset 0xF00: 256 bytes left in the page, which KVM compares with the element count
        // (min(256, 1024 / 2, 1000) = 256 words); then 512 words (the 1024-byte read-ahead), then the rest.
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.mov(rdi, Buffer + 0xF00);
            a.mov(ecx, 1000);
            a.mov(dx, NoDevice);
            a.rep.insw();
            a.hlt();
        });
        var exits = RunAnsweringIns(m);
        Assert.Equal([(256u, (byte)2), (512u, (byte)2), (232u, (byte)2)], exits);
        Assert.Equal(Buffer + 0xF00 + 2000, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal(3UL, m.Stat("io_exits"));
        Assert.Equal((ushort)0x0100, m.Vm.Memory.Read<ushort>(Buffer + 0xF00));           // bytes 0, 1
        Assert.Equal((ushort)0xCFCE, m.Vm.Memory.Read<ushort>(Buffer + 0xF00 + 2 * 999)); // bytes 1998, 1999 (mod 256)
    }

    [Fact]
    public void Rep_insb_backwards_batches_up_to_the_start_of_rdis_page()
    {
        using var m = new KvmMachine();
        m.Load(a =>
        {
            a.std();
            a.mov(rdi, Buffer + 0x10);
            a.mov(ecx, 40);
            a.mov(dx, NoDevice);
            a.rep.insb();
            a.cld();
            a.hlt();
        });
        var exits = RunAnsweringIns(m);
        Assert.Equal([(16u, (byte)1), (1u, (byte)1), (23u, (byte)1)], exits);   // offset 0x10, then 0 (at least 1), then a full page
        Assert.Equal(Buffer + 0x10 - 40, m.R.Gpr[Gpr.Rdi]);
        Assert.Equal((byte)0, m.Vm.Memory.Read<byte>(Buffer + 0x10));
        Assert.Equal((byte)1, m.Vm.Memory.Read<byte>(Buffer + 0x0F));
    }

    [Fact]
    public void Rep_insb_from_an_in_kernel_port_is_one_io_exit_per_batch_and_no_userspace_exit()
    {
        using var m = new KvmMachine(irqchip: true);
        m.Load(a =>
        {
            a.mov(al, 0xA5);
            a.@out(0x21, al); // the master PIC's mask register: an in-kernel port
            a.mov(rdi, Buffer);
            a.mov(ecx, 10);
            a.mov(dx, 0x21);
            a.rep.insb();
            a.@out(0x80, al);
        });
        Assert.Equal(RunResult.Ok, m.Vcpu.Run());
        Assert.Equal(ExitReason.Io, m.Run.ExitReason);
        Assert.Equal((ushort)0x80, m.Run.Io.Port);
        var data = new byte[10];
        m.Vm.Memory.Read(Buffer, data);
        Assert.All(data, b => Assert.Equal(0xA5, b));
        Assert.Equal(3UL, m.Stat("io_exits")); // OUT, one REP INSB batch, OUT
    }

    [Fact]
    public void Rep_outsb_is_one_exit_per_element()
    {
        using var m = new KvmMachine();
        m.Vm.Memory.Write(Buffer, "hello"u8.ToArray());
        m.Load(a =>
        {
            a.mov(rsi, Buffer);
            a.mov(ecx, 5);
            a.mov(dx, NoDevice);
            a.rep.outsb();
            a.hlt();
        });
        var seen = new List<byte>();
        while (true)
        {
            Assert.Equal(RunResult.Ok, m.Vcpu.Run());
            if (m.Run.ExitReason != ExitReason.Io)
            {
                break;
            }

            Assert.Equal(1u, m.Run.Io.Count);
            seen.Add(m.Run.PioData[0]);
        }

        Assert.Equal("hello"u8.ToArray(), seen.ToArray());
        Assert.Equal(5UL, m.Stat("io_exits"));
    }
}

using System.Text;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.Devices;
using SoftKvm.Vmm.Arm64.Semihosting;
using SoftKvm.Vmm.Runner;

namespace SoftKvm.Vmm.Tests.Arm64.Semihosting;

/// <summary>
/// The VMM's semihosting operations fed synthetic <c>KVM_EXIT_HYPERCALL</c>s on a real arm64 vCPU (MMU off: virtual
/// = physical): unsupported and unknown operations return -1 with errno ENOSYS, logged once; parameter blocks
/// outside RAM give EFAULT; a console read ends when the run stops.
/// </summary>
public sealed class ArmSemihostingTests : IDisposable
{
    private const ulong Ram = 0x4000_0000;
    private const ulong Block = Ram + 0x1000;
    private readonly Arm64Vm _vm = new();
    private readonly Arm64Vcpu _vcpu;
    private readonly StringWriter _log = new();
    private readonly MemoryStream _console = new();
    private readonly ArmSemihosting _semihosting;
    private readonly VmRunner _runner;

    public ArmSemihostingTests()
    {
        _vm.SetMemoryRegion(0, new GuestPhysAddr(Ram), 1 << 20);
        _vcpu = (Arm64Vcpu)_vm.CreateVcpu(0);
        _vcpu.Init(new Arm64VcpuInit { Semihosting = true });
        _semihosting = new ArmSemihosting(null, "kernel.elf", new SemihostingLayout(Ram, Ram + 0x10_0000, Ram + 0x10_0000, Ram), new SemihostingConsole(new SerialOutput(_console), _log), _log);
        _runner = new VmRunner(_vm, new IoBus(IoBusKind.Mmio, "mmio"), new IoBus(IoBusKind.Pio, "pio"));
    }

    public void Dispose()
    {
        _semihosting.Dispose();
        _vm.Dispose();
    }

    private long Call(uint op, ulong arg, CancellationToken stopping = default)
    {
        var exit = new HypercallExit { Nr = op, Arg0 = arg, Flags = HypercallFlags.ArmSemihosting };
        Assert.True(_semihosting.OnHypercall(_vcpu, in exit, _runner, stopping));
        return (long)_vcpu.GetRegister(Arm64CoreRegister.X0);
    }

    [Theory]
    [InlineData(0x0Du)] // SYS_TMPNAM
    [InlineData(0x12u)] // SYS_SYSTEM
    [InlineData(0x17u)] // not allocated
    [InlineData(0x100u)]
    public void Unsupported_and_unknown_operations_return_minus_1_with_errno_enosys_logged_once(uint op)
    {
        Assert.Equal(-1, Call(op, Block));
        Assert.Equal(38, Call(0x13, 0));
        Assert.Equal(-1, Call(op, Block));
        Assert.Single(_log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("is not supported; it returns -1 with errno ENOSYS", _log.ToString());
    }

    [Theory]
    [InlineData(0x01u)] // SYS_OPEN
    [InlineData(0x0Eu)] // SYS_REMOVE
    [InlineData(0x0Fu)] // SYS_RENAME
    public void Without_a_root_every_file_name_is_eacces(uint op)
    {
        _vm.Memory.Write(new GuestPhysAddr(Block + 0x100), "a.txt"u8);
        ulong name = Block + 0x100;
        ulong[] block = op == 0x01 ? [name, 0, 5] : [name, 5, name, 5]; // SYS_OPEN: name, mode "r", length
        for (int i = 0; i < block.Length; i++)
        {
            _vm.Memory.Write(new GuestPhysAddr(Block + (ulong)(8 * i)), block[i]);
        }

        Assert.Equal(-1, Call(op, Block));
        Assert.Equal(13, Call(0x13, 0));
    }

    [Fact]
    public void A_parameter_block_outside_ram_is_efault()
    {
        Assert.Equal(-1, Call(0x01, 0x1000)); // SYS_OPEN
        Assert.Equal(14, Call(0x13, 0));
    }

    [Fact]
    public void Writec_and_write0_write_the_console_and_leave_x0()
    {
        _vm.Memory.Write(new GuestPhysAddr(Block), "hi\0"u8);
        _vcpu.SetRegister(Arm64CoreRegister.X0, 0x1234);
        Call(0x03, Block); // SYS_WRITEC
        Assert.Equal(0x1234, Call(0x04, Block)); // SYS_WRITE0
        Assert.Equal("hhi", Encoding.ASCII.GetString(_console.ToArray()));
    }

    [Fact]
    public void Tickfreq_is_nanoseconds_and_elapsed_is_written_to_the_block()
    {
        Assert.Equal(1_000_000_000, Call(0x31, 0));
        Assert.Equal(0, Call(0x30, Block));
        ulong first = _vm.Memory.Read<ulong>(new GuestPhysAddr(Block));
        Thread.Sleep(2);
        Call(0x30, Block);
        Assert.True(_vm.Memory.Read<ulong>(new GuestPhysAddr(Block)) > first);
    }

    [Fact]
    public void A_console_read_waiting_for_input_ends_when_the_run_stops()
    {
        using var stop = new CancellationTokenSource(100);
        var exit = new HypercallExit { Nr = 0x07, Flags = HypercallFlags.ArmSemihosting }; // SYS_READC
        Assert.False(_semihosting.OnHypercall(_vcpu, in exit, _runner, stop.Token));
    }

    [Fact]
    public void Console_input_reaches_readc()
    {
        Assert.Equal(2, _semihosting.Console.Offer("ab"u8));
        Assert.Equal('a', Call(0x07, 0));
        Assert.Equal('b', Call(0x07, 0));
    }
}

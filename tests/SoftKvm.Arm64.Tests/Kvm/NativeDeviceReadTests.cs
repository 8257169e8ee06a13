using SoftKvm.Arm64.Cpu;
using SoftKvm.Arm64.Kvm;
using SoftKvm.Arm64.Tests.Harness;
using SoftKvm.Arm64.Vgic;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using static SoftKvm.Arm64.Tests.Harness.TestMachine;
using Gic = SoftKvm.Arm64.Tests.Vgic.Gic;

namespace SoftKvm.Arm64.Tests.Kvm;

/// <summary>
/// In-kernel device reads native code completes itself (Arm64Cpu.DeviceReads.cs, issue 19): a 32-bit load of a GIC
/// distributor word that reads a fixed value (GICD_TYPER, GICD_IIDR) is still one exit and one <c>mmio_exit_kernel</c>,
/// retires once, leaves its value as the run state's MMIO data, and is never answered from a table the bus or the GIC no
/// longer stands behind (a device unregistered, an ITS created); exits timed for a profile and hooks still see every one.
/// </summary>
public sealed class NativeDeviceReadTests
{
    private const ulong Typer = Gic.V3Dist + 0x4;
    private const ulong Iidr = Gic.V3Dist + 0x8;

    // P: ldr w1,[x0]; add x2,x2,x1; subs x7,x7,#1; b.ne P; str x2,[x3] (the marker)
    private static readonly uint[] ReadLoop = [0xb9400001u, 0x8b010042u, 0xf10004e7u, 0x54ffffa1u, 0xf9000062u];

    private static bool Native => Arm64Cpu.NativeSupported && Arm64Cpu.DefaultTranslation;

    private static long Counter(Arm64Vcpu v, string name) => v.CpuModelCounters().Single(c => c.Key == name).Value;

    private static SoftKvm.Arm64.Vgic.Vgic AddGic(TestMachine m)
    {
        var gic = new SoftKvm.Arm64.Vgic.Vgic(m.Vm, GicModel.V3, 1);
        gic.SetAddress(VgicAddressType.V3Distributor, Gic.V3Dist);
        gic.SetAddress(VgicAddressType.V3Redistributor, Gic.V3Redist);
        m.Vm.InterruptController = gic;
        return gic;
    }

    private static Arm64Vcpu StartReadLoop(TestMachine m, ulong address, int rounds)
    {
        var gic = AddGic(m);
        var v = m.Start(ReadLoop);
        gic.Init();
        SetX(v, 0, address);
        SetX(v, 2, 0);
        SetX(v, 3, MarkerBase);
        SetX(v, 7, (ulong)rounds);
        return v;
    }

    private static uint DistributorWord(TestMachine m, ulong address) => Gic.Read32(m.Vm, 0, address);

    [Fact]
    public void GicdTyperReadsInALoop_EachOneExitAndOneKernelMmioExit_RetiredOnce()
    {
        const int rounds = 500;
        using var m = new TestMachine();
        var v = StartReadLoop(m, Typer, rounds);
        Assert.Equal(RunResult.Ok, v.Run());

        Assert.Equal(ExitReason.Mmio, v.RunState.ExitReason);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        ulong typer = DistributorWord(m, Typer);
        Assert.NotEqual(0u, typer);
        Assert.Equal(typer, X(v, 1));
        Assert.Equal(typer * rounds, X(v, 2));
        Assert.Equal(CodeBase + 16, Pc(v));
        Assert.Equal(4L * rounds, v.InstructionsRetired); // the marker store has not retired
        Assert.Equal((ulong)rounds, Stat(v, "mmio_exit_kernel"));
        Assert.Equal(1UL, Stat(v, "mmio_exit_user"));
        Assert.Equal((ulong)rounds + 1, Stat(v, "exits"));
        if (Native)
        {
            Assert.True(Counter(v, "native_device_reads") >= rounds - 2, $"native code completed {Counter(v, "native_device_reads")} of {rounds} reads");
        }
    }

    [Fact]
    public void TheLastReadNativeCodeCompleted_IsTheRunStatesMmioData()
    {
        // ldr w1,[x0] (GICD_TYPER) x2; ldr w5,[x4] (GICD_IIDR); hvc #0 with PSCI SYSTEM_OFF: an exit that leaves the MMIO data
        // as the last in-kernel completion left it (KVM copies an in-kernel read's data into run->mmio.data).
        using var m = new TestMachine();
        var gic = AddGic(m);
        var v = m.Start(0xb9400001u, 0xb9400001u, 0xb9400085u);
        gic.Init();
        m.Load(CodeBase + 12, 0xd2800100u, 0xf2b08000u, 0xd4000002u); // movz x0,#8; movk x0,#0x8400,lsl #16; hvc #0
        SetX(v, 0, Typer);
        SetX(v, 4, Iidr);
        Assert.Equal(RunResult.Ok, v.Run());

        Assert.Equal(ExitReason.SystemEvent, v.RunState.ExitReason);
        ulong iidr = DistributorWord(m, Iidr);
        Assert.Equal(iidr, X(v, 5));
        Assert.Equal(iidr, BitConverter.ToUInt64(v.RunState.Mmio.Data));
        Assert.Equal(3UL, Stat(v, "mmio_exit_kernel"));
    }

    [Fact]
    public void TheDistributorReplacedBetweenRuns_TheNewDeviceTakesEveryRead()
    {
        const int rounds = 50;
        using var m = new TestMachine();
        var v = StartReadLoop(m, Typer, rounds);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);

        Assert.True(m.Vm.MmioBus.TryFind(Gic.V3Dist, 4, out IIoDevice distributor, out _));
        m.Vm.MmioBus.Unregister(distributor);
        var replacement = new CountingDevice(0x1234);
        m.Vm.MmioBus.Register(Gic.V3Dist, 0x1_0000, replacement);
        v.RunState.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run()); // completes the marker store
        v.RunState.ImmediateExit = false;
        v.SetRegister(Arm64CoreRegister.Pc, CodeBase);
        SetX(v, 2, 0);
        SetX(v, 7, rounds);
        Assert.Equal(RunResult.Ok, v.Run());

        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(rounds, replacement.Reads);
        Assert.Equal(0x1234UL * rounds, X(v, 2));
        Assert.Equal(2UL * rounds, Stat(v, "mmio_exit_kernel"));
    }

    [Fact]
    public void AnItsCreatedBetweenRuns_GicdTyperReadsWithIt()
    {
        const int rounds = 50;
        using var m = new TestMachine();
        var v = StartReadLoop(m, Typer, rounds);
        Assert.Equal(RunResult.Ok, v.Run());
        ulong before = X(v, 1);

        ((SoftKvm.Arm64.Vgic.Vgic)m.Vm.InterruptController!).CreateIts();
        ulong after = DistributorWord(m, Typer);
        Assert.NotEqual(before, after); // LPIS and IDbits
        v.RunState.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        v.RunState.ImmediateExit = false;
        v.SetRegister(Arm64CoreRegister.Pc, CodeBase);
        SetX(v, 2, 0);
        SetX(v, 7, rounds);
        Assert.Equal(RunResult.Ok, v.Run());

        Assert.Equal(after, X(v, 1));
        Assert.Equal(after * rounds, X(v, 2));
    }

    [Fact]
    public void AWordThatIsNotFixed_ReadsItsCurrentValueEachTime()
    {
        // GICD_CTLR shares GICD_TYPER's page but is not a fixed value: a write between runs shows in the next reads.
        const int rounds = 20;
        using var m = new TestMachine();
        var v = StartReadLoop(m, Gic.V3Dist, rounds);
        Assert.Equal(RunResult.Ok, v.Run());
        ulong first = X(v, 1);
        Gic.Write32(m.Vm, 0, Gic.V3Dist, 0x12); // ARE, EnableGrp1NS
        ulong second = DistributorWord(m, Gic.V3Dist);
        Assert.NotEqual(first, second);
        v.RunState.ImmediateExit = true;
        Assert.Equal(RunResult.Interrupted, v.Run());
        v.RunState.ImmediateExit = false;
        v.SetRegister(Arm64CoreRegister.Pc, CodeBase);
        SetX(v, 7, rounds);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(second, X(v, 1));
        Assert.Equal(2UL * rounds, Stat(v, "mmio_exit_kernel"));
    }

    [Fact]
    public void WithExitsTimed_NativeCodeLeavesEveryReadToTheHypervisor()
    {
        const int rounds = 200;
        using var m = new TestMachine();
        var v = StartReadLoop(m, Typer, rounds);
        v.TimeExits();
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal((ulong)rounds, Stat(v, "mmio_exit_kernel"));
        Assert.True(v.ExitHandlingTime(v.Stats.Schema.IndexOf("mmio_exit_kernel")) > TimeSpan.Zero);
        if (Native)
        {
            Assert.Equal(0, Counter(v, "native_device_reads"));
        }
    }

    [Fact]
    public void AnInstructionHookSeesEveryRead_CountedOnceEach()
    {
        const int rounds = 100;
        using var m = new TestMachine();
        var v = StartReadLoop(m, Typer, rounds);
        int seen = 0;
        using var hook = m.Vm.Hooks.AddInstructionHook((_, address, _) => seen += address == CodeBase ? 1 : 0);
        Assert.Equal(RunResult.Ok, v.Run());
        Assert.Equal(rounds, seen);
        Assert.Equal((ulong)rounds, Stat(v, "mmio_exit_kernel"));
        Assert.Equal((ulong)rounds + 1, Stat(v, "exits"));
        Assert.Equal(DistributorWord(m, Typer) * rounds, X(v, 2));
    }

    [Fact]
    public void ReadsCompletedInNativeCode_AllocateNothing()
    {
        // A run of 100 reads and a run of 5,000 allocate the same (whatever a run itself allocates): nothing per read.
        using var m = new TestMachine();
        var v = StartReadLoop(m, Typer, 100);
        Assert.Equal(RunResult.Ok, v.Run()); // warm: blocks translated, the slot filled
        long Again(int rounds)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            v.RunState.ImmediateExit = true;
            v.Run();
            v.RunState.ImmediateExit = false;
            v.SetRegister(Arm64CoreRegister.Pc, CodeBase);
            SetX(v, 7, (ulong)rounds);
            v.Run();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Again(100);
        Again(5_000);
        long few = Again(100), many = Again(5_000);
        Assert.Equal(few, many);
        Assert.Equal(MarkerBase, v.RunState.Mmio.PhysAddr);
        Assert.Equal(100UL + 100 + 5_000 + 100 + 5_000, Stat(v, "mmio_exit_kernel"));
    }

    private sealed class CountingDevice(uint value) : IIoDevice
    {
        public int Reads;

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            Reads++;
            BitConverter.TryWriteBytes(data, value);
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
        }
    }
}

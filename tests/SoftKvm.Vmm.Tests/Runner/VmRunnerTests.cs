using System.Text.Json;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Run;
using SoftKvm.Devices.X86;
using SoftKvm.Vmm.Runner;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Vmm.Tests.Runner;

public class VmRunnerTests
{
    private sealed class RecordingDevice : IIoDevice
    {
        public List<(ulong Offset, byte[] Data)> Writes { get; } = [];

        public byte ReadValue { get; set; } = 0x5A;

        public Exception? ThrowOnWrite { get; set; }

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Fill(ReadValue);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            if (ThrowOnWrite is { } e)
            {
                throw e;
            }

            lock (Writes)
            {
                Writes.Add((offset, data.ToArray()));
            }
        }
    }

    private static (FakeVm Vm, IoBus Mmio, IoBus Pio) Setup(int cpus)
    {
        var vm = new FakeVm(cpus);
        for (int i = 0; i < cpus; i++)
        {
            vm.CreateVcpu(i);
        }

        return (vm, new IoBus(IoBusKind.Mmio, "user-mmio"), new IoBus(IoBusKind.Pio, "user-pio"));
    }

    [Fact]
    public void MmioWriteReachesTheDeviceAndPowerOffEndsWithZero()
    {
        var (vm, mmio, pio) = Setup(1);
        var dev = new RecordingDevice();
        mmio.Register(0x0900_0000, 0x1000, dev);
        vm.Cpu(0).Script(ScriptedVcpu.MmioWrite(0x0900_0004, 0x41), ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        var outcome = new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal(StopReason.PowerOff, outcome.Reason);
        Assert.Equal(0, outcome.VcpuId);
        var (offset, data) = Assert.Single(dev.Writes);
        Assert.Equal(4UL, offset);
        Assert.Equal(new byte[] { 0x41, 0, 0, 0 }, data);
    }

    [Fact]
    public void MmioReadDataIsWrittenBackForCompletion()
    {
        var (vm, mmio, pio) = Setup(1);
        mmio.Register(0x0900_0000, 0x1000, new RecordingDevice { ReadValue = 0x7E });
        vm.Cpu(0).Script(ScriptedVcpu.MmioRead(0x0900_0018, 2), ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        new VmRunner(vm, mmio, pio).Run();
        Assert.Equal([0x7E7EUL], vm.Cpu(0).CompletedReads);
    }

    [Fact]
    public void UnhandledMmioIsLoggedOnceAndReadsReturnZero()
    {
        var (vm, mmio, pio) = Setup(1);
        var log = new StringWriter();
        vm.Cpu(0).Script(
            ScriptedVcpu.MmioRead(0x1234_0000),
            ScriptedVcpu.MmioRead(0x1234_0000),
            ScriptedVcpu.MmioWrite(0x1234_0000, 1),
            ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        var runner = new VmRunner(vm, mmio, pio, new RunnerOptions { Log = log });
        var outcome = runner.Run();
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal([0UL, 0UL], vm.Cpu(0).CompletedReads);
        Assert.Equal(3, runner.UnhandledMmioAccesses);
        Assert.Single(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("0x12340000", log.ToString());
    }

    [Fact]
    public void RunnerCountsTheMmioAndIoExitsItHandled()
    {
        var (vm, mmio, pio) = Setup(1);
        mmio.Register(0x0900_0000, 0x1000, new RecordingDevice());
        vm.Cpu(0).Script(
            ScriptedVcpu.MmioRead(0x0900_0000),
            ScriptedVcpu.MmioWrite(0x0900_0004, 1),
            ScriptedVcpu.MmioRead(0x1234_0000),
            ScriptedVcpu.PortOut(0x80, 1),
            ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        var runner = new VmRunner(vm, mmio, pio);
        runner.Run();
        Assert.Equal(3, runner.MmioExitsSeen);
        Assert.Equal(1, runner.IoExitsSeen);
    }

    [Fact]
    public void ExitCountsOfEveryVcpuAddUpAfterTheCountsBefore()
    {
        // Each vCPU counts its own exits (its thread alone writes them); the runner's figures are the sums.
        var (vm, mmio, pio) = Setup(3);
        mmio.Register(0x0900_0000, 0x1000, new RecordingDevice());
        var done = new LastArrivalStops(3);
        pio.Register(0xF0, 1, done);
        for (int id = 0; id < 3; id++)
        {
            var steps = new List<ScriptedVcpu.Step>();
            for (int i = 0; i < 50 * (id + 1); i++)
            {
                steps.Add(ScriptedVcpu.MmioRead(0x0900_0000 + (ulong)(4 * (i % 8))));
                steps.Add(ScriptedVcpu.PortOut(0x80, 1));
            }

            steps.Add(ScriptedVcpu.PortOut(0xF0, 1));
            vm.Cpu(id).Script([.. steps]);
        }

        var runner = new VmRunner(vm, mmio, pio, new RunnerOptions { ExitsSeenBefore = new VmmExitCounts(7, 9) });
        done.Runner = runner;
        Assert.Equal(7, runner.MmioExitsSeen);
        Assert.Equal(0, runner.Run().ExitCode);
        Assert.Equal(7 + 300, runner.MmioExitsSeen);
        Assert.Equal(9 + 300 + 3, runner.IoExitsSeen);
        Assert.Equal(new VmmExitCounts(307, 312), runner.ExitsSeen);
    }

    // A port each vCPU writes once at the end of its script; the last one stops the run.
    private sealed class LastArrivalStops(int count) : IIoDevice
    {
        private int _left = count;

        public VmRunner? Runner { get; set; }

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Clear();

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            if (Interlocked.Decrement(ref _left) == 0)
            {
                Runner!.RequestStop(0, StopReason.PowerOff, "every vCPU arrived");
            }
        }
    }

    private sealed class MovingDevice(IoBus bus, IIoDevice next) : IIoDevice
    {
        public int Reads { get; private set; }

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            Reads++;
            data.Fill(0x11);
            bus.Unregister(this); // the VMM moves its devices while the vCPU runs: the vCPU's remembered look-up must not be used
            bus.Register(0x0900_0000, 0x1000, next);
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => throw new InvalidOperationException("not written");
    }

    [Fact]
    public void ADeviceReplacedDuringTheRunTakesTheNextAccess()
    {
        var (vm, mmio, pio) = Setup(1);
        var next = new RecordingDevice { ReadValue = 0x22 };
        var first = new MovingDevice(mmio, next);
        mmio.Register(0x0900_0000, 0x1000, first);
        vm.Cpu(0).Script(
            ScriptedVcpu.MmioRead(0x0900_0000, 1),
            ScriptedVcpu.MmioRead(0x0900_0004, 1),
            ScriptedVcpu.MmioWrite(0x0900_0008, 1),
            ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(1, first.Reads);
        Assert.Equal([0x11UL, 0x22UL], vm.Cpu(0).CompletedReads);
        Assert.Single(next.Writes);
    }

    private sealed class CountingPort : IIoDevice
    {
        private byte _next = 1;

        public List<byte[]> Writes { get; } = [];

        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => data.Fill(_next++);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => Writes.Add(data.ToArray());
    }

    [Fact]
    public void StringIoExitWithACountIsOneDeviceAccessPerElementInOrder()
    {
        // An emulated REP INS exits with io.count elements in the PIO page; each is one access to the device.
        var (vm, mmio, pio) = Setup(1);
        var port = new CountingPort();
        pio.Register(0x3FF, 1, port);
        pio.Register(0x300, 2, port);
        vm.Cpu(0).Script(
            ScriptedVcpu.PortIn(0x3FF, 1, 4),
            ScriptedVcpu.PortIn(0x300, 2, 3),
            ScriptedVcpu.PortOutString(0x3FF, "abc"u8.ToArray()),
            ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        var runner = new VmRunner(vm, mmio, pio);
        runner.Run();
        Assert.Equal([1, 2, 3, 4], vm.Cpu(0).CompletedPortReads[0]);
        Assert.Equal([5, 5, 6, 6, 7, 7], vm.Cpu(0).CompletedPortReads[1]);
        Assert.Equal(["a"u8.ToArray(), "b"u8.ToArray(), "c"u8.ToArray()], port.Writes);
        Assert.Equal(3, runner.IoExitsSeen);
    }

    [Fact]
    public void InternalErrorStopsWithExitCode3AndTheMessage()
    {
        var (vm, mmio, pio) = Setup(1);
        vm.Cpu(0).Script(ScriptedVcpu.InternalError("undefined instruction 0x00000000 at PC 0x40080000"));
        var outcome = new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(3, outcome.ExitCode);
        Assert.Equal(StopReason.InternalError, outcome.Reason);
        Assert.Contains("KVM_EXIT_INTERNAL_ERROR", outcome.Message);
        Assert.Contains("PC 0x40080000", outcome.Message);
        Assert.DoesNotContain('\n', outcome.Message);
    }

    [Fact]
    public void FailedEntryStopsWithExitCode3TheReasonAndTheFailedCheck()
    {
        var (vm, mmio, pio) = Setup(1);
        vm.Cpu(0).Script(ScriptedVcpu.FailEntry(0x8000_0021, "TR is unusable"));
        var outcome = new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(3, outcome.ExitCode);
        Assert.Equal("vCPU 0: KVM_EXIT_FAIL_ENTRY (reason 0x80000021): TR is unusable", outcome.Message);
    }

    [Fact]
    public void ShutdownOnOneVcpuStopsTheOthers()
    {
        var (vm, mmio, pio) = Setup(4);
        vm.Cpu(2).Script(ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        var outcome = new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal(2, outcome.VcpuId);
        Assert.All(vm.Vcpus, v => Assert.False(v.IsRunning));
    }

    [Fact]
    public void ResetStopsWithZero()
    {
        var (vm, mmio, pio) = Setup(1);
        vm.Cpu(0).Script(ScriptedVcpu.SystemEvent(SystemEventType.Reset));
        var outcome = new VmRunner(vm, mmio, pio).Run();
        Assert.Equal((0, StopReason.Reset), (outcome.ExitCode, outcome.Reason));
    }

    [Fact]
    public void IsaDebugExitOnThePioBusGivesQemusExitCode()
    {
        var (vm, mmio, pio) = Setup(1);
        VmRunner? runner = null;
        pio.Register(0xF4, 4, new IsaDebugExit(code => runner!.RequestStop(code, StopReason.DeviceExit, "isa-debug-exit")));
        vm.Cpu(0).Script(ScriptedVcpu.PortOut(0xF4, 0x10, 4));
        runner = new VmRunner(vm, mmio, pio);
        var outcome = runner.Run();
        Assert.Equal(0x21, outcome.ExitCode);
        Assert.Equal(StopReason.DeviceExit, outcome.Reason);
    }

    [Fact]
    public void UnhandledPortReadReturnsAllOnes()
    {
        var (vm, mmio, pio) = Setup(1);
        vm.Cpu(0).Script(ScriptedVcpu.PortIn(0x80, 2), ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        var runner = new VmRunner(vm, mmio, pio);
        runner.Run();
        Assert.Equal([0xFF, 0xFF], Assert.Single(vm.Cpu(0).CompletedPortReads));
        Assert.Equal(1, runner.UnhandledPioAccesses);
    }

    [Fact]
    public void PortWriteReachesTheDevice()
    {
        var (vm, mmio, pio) = Setup(1);
        var dev = new RecordingDevice();
        pio.Register(0x3F8, 8, dev);
        vm.Cpu(0).Script(ScriptedVcpu.PortOut(0x3F8, 'A'), ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(new byte[] { 0x41 }, Assert.Single(dev.Writes).Data);
    }

    [Fact]
    public void AHostExceptionInADeviceEndsTheRunNotTheProcess()
    {
        var (vm, mmio, pio) = Setup(1);
        mmio.Register(0x0900_0000, 0x1000, new RecordingDevice { ThrowOnWrite = new InvalidOperationException("boom") });
        vm.Cpu(0).Script(ScriptedVcpu.MmioWrite(0x0900_0000, 1));
        var outcome = new VmRunner(vm, mmio, pio).Run();
        Assert.Equal(3, outcome.ExitCode);
        Assert.Contains("InvalidOperationException: boom", outcome.Message);
    }

    [Fact]
    public void CancellationStopsWith130()
    {
        var (vm, mmio, pio) = Setup(2);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var outcome = new VmRunner(vm, mmio, pio).Run(cancellation: cts.Token);
        Assert.Equal(130, outcome.ExitCode);
        Assert.Equal(StopReason.Cancelled, outcome.Reason);
    }

    [Fact]
    public void AVcpuThatIgnoresKicksIsReportedAsNotStopped()
    {
        var (vm, mmio, pio) = Setup(1);
        using var entered = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        vm.Cpu(0).Script((ref RunState r) =>
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(10)); // a vCPU stuck in host code
            r.ExitReason = ExitReason.Intr;
        });
        var runner = new VmRunner(vm, mmio, pio, new RunnerOptions { StopTimeout = TimeSpan.FromMilliseconds(50) });
        // The stop comes once the vCPU is stuck: a vCPU thread that starts late under load would otherwise
        // see the stop at its entry and end in time.
        var stopper = new Thread(() =>
        {
            entered.Wait(TimeSpan.FromSeconds(10));
            runner.RequestStop(0, StopReason.PowerOff, "stop");
        });
        stopper.Start();
        var outcome = runner.Run();
        stopper.Join();
        Assert.True(entered.IsSet);
        Assert.Equal(StopReason.PowerOff, outcome.Reason);
        Assert.False(runner.VcpuThreadsStopped);
        release.Set();
    }

    [Fact]
    public void FirstStopWins()
    {
        var (vm, mmio, pio) = Setup(1);
        var runner = new VmRunner(vm, mmio, pio);
        runner.RequestStop(7, StopReason.DeviceExit, "first");
        runner.RequestStop(9, StopReason.DeviceExit, "second");
        var outcome = runner.Run();
        Assert.Equal(7, outcome.ExitCode);
    }

    [Fact]
    public void TraceIsChromeTraceEventJson()
    {
        var (vm, mmio, pio) = Setup(1);
        var stream = new MemoryStream();
        var trace = new ExitTraceWriter(stream);
        vm.Cpu(0).Script(ScriptedVcpu.MmioWrite(0x0900_0000, 1), ScriptedVcpu.SystemEvent(SystemEventType.Shutdown));
        new VmRunner(vm, mmio, pio, new RunnerOptions { Trace = trace }).Run();
        trace.Dispose();
        byte[] json = stream.ToArray(); // a closed MemoryStream still hands out its bytes
        using var doc = JsonDocument.Parse(json);
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        var mmioEvent = events.First(e => e.GetProperty("name").GetString() == "KVM_EXIT_MMIO");
        Assert.Equal("X", mmioEvent.GetProperty("ph").GetString());
        Assert.Equal(0, mmioEvent.GetProperty("tid").GetInt32());
        Assert.Equal("0x9000000", mmioEvent.GetProperty("args").GetProperty("addr").GetString());
        Assert.True(mmioEvent.GetProperty("args").GetProperty("write").GetBoolean());
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "KVM_EXIT_SYSTEM_EVENT");
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "thread_name");
    }
}

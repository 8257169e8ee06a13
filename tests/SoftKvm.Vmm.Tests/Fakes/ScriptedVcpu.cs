using SoftKvm.Core;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Vmm.Tests.Fakes;

/// <summary>A vCPU that returns scripted exits; once the script is done it halts until kicked.</summary>
internal sealed class ScriptedVcpu : Vcpu
{
    public delegate void Step(ref RunState run);

    private readonly Queue<Step> _steps = new();

    public ScriptedVcpu(Vm vm, int id) : base(vm, id, new StatsSchema(StatScope.Vcpu, VcpuStat.Descriptors))
    {
    }

    /// <summary>The values the VMM supplied for MMIO reads, in order (seen at completion).</summary>
    public List<ulong> CompletedReads { get; } = [];

    public List<byte[]> CompletedPortReads { get; } = [];

    public bool Halted { get; private set; }

    public object? BootState { get; set; }

    public Exception? ThrowOnRun { get; set; }

    public void Script(params Step[] steps)
    {
        foreach (var s in steps)
        {
            _steps.Enqueue(s);
        }
    }

    public static Step MmioWrite(ulong address, ulong value, uint length = 4) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.Mmio;
        r.Mmio.PhysAddr = address;
        r.Mmio.Length = length;
        r.Mmio.IsWrite = true;
        r.Mmio.SetValue(value);
    };

    public static Step MmioRead(ulong address, uint length = 4) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.Mmio;
        r.Mmio.PhysAddr = address;
        r.Mmio.Length = length;
        r.Mmio.IsWrite = false;
        r.Mmio.SetValue(0xCCCC_CCCC_CCCC_CCCC);
    };

    public static Step PortOut(ushort port, uint value, byte size = 1) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.Io;
        r.Io.Direction = IoDirection.Out;
        r.Io.Port = port;
        r.Io.Size = size;
        r.Io.Count = 1;
        r.Io.DataOffset = 4096;
        Span<byte> page = r.PioData;
        BitConverter.TryWriteBytes(page, value);
    };

    public static Step PortIn(ushort port, byte size = 1, uint count = 1) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.Io;
        r.Io.Direction = IoDirection.In;
        r.Io.Port = port;
        r.Io.Size = size;
        r.Io.Count = count;
        r.Io.DataOffset = 4096;
    };

    /// <summary>A string OUT exit: <paramref name="data"/>.Length / <paramref name="size"/> elements in the PIO page.</summary>
    public static Step PortOutString(ushort port, byte[] data, byte size = 1) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.Io;
        r.Io.Direction = IoDirection.Out;
        r.Io.Port = port;
        r.Io.Size = size;
        r.Io.Count = (uint)(data.Length / size);
        r.Io.DataOffset = 4096;
        data.CopyTo(r.PioData);
    };

    public static Step SystemEvent(SystemEventType type) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.SystemEvent;
        r.SystemEvent.Type = type;
    };

    public static Step FailEntry(ulong reason, string message) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.FailEntry;
        r.FailEntry.HardwareEntryFailureReason = reason;
        r.FailEntry.Message = message;
    };

    public static Step InternalError(string message) => (ref RunState r) =>
    {
        r.ExitReason = ExitReason.InternalError;
        r.Internal.Suberror = InternalErrorSuberror.Emulation;
        r.Internal.Message = message;
    };

    protected override RunResult RunLoop()
    {
        if (ThrowOnRun is { } e)
        {
            throw e;
        }

        while (true)
        {
            Stats.Increment(VcpuStat.Exits);
            if (TryConsumeKick())
            {
                return RunResult.Interrupted;
            }

            if (_steps.Count == 0)
            {
                Halted = true;
                Block();
                continue;
            }

            _steps.Dequeue()(ref RunState);
            if (RunState.ExitReason == ExitReason.Mmio && !RunState.Mmio.IsWrite)
            {
                SetPendingCompletion(1);
            }
            else if (RunState.ExitReason == ExitReason.Io && RunState.Io.Direction == IoDirection.In)
            {
                SetPendingCompletion(2);
            }

            return RunResult.Ok;
        }
    }

    protected override bool CompletePending(int kind, out RunResult result)
    {
        if (kind == 1)
        {
            CompletedReads.Add(RunState.Mmio.Value);
        }
        else
        {
            ReadOnlySpan<byte> page = RunState.PioData;
            CompletedPortReads.Add(page[..(RunState.Io.Size * (int)RunState.Io.Count)].ToArray());
        }

        result = RunResult.Ok;
        return true;
    }

    protected override bool HasWakeupEvent() => false;
}

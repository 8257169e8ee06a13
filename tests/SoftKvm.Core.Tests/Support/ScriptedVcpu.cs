using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Core.Tests.Support;

/// <summary>One step of a scripted "guest": the test vCPU's instruction set.</summary>
public abstract record Step;

/// <summary>Load <c>Length</c> bytes from guest-physical <c>Address</c> into register <c>Register</c>.</summary>
public sealed record Load(ulong Address, int Length, int Register) : Step;

/// <summary>Store the low <c>Length</c> bytes of <c>Value</c> at <c>Address</c>.</summary>
public sealed record Store(ulong Address, int Length, ulong Value) : Step;

/// <summary>Add 1 to register <c>Register</c>.</summary>
public sealed record Increment(int Register) : Step;

/// <summary>Halt until woken (an interrupt) or kicked.</summary>
public sealed record HaltStep : Step;

/// <summary>Spin on this step forever (a busy guest); only a kick gets out.</summary>
public sealed record Spin : Step;

/// <summary>Notes whether another thread is inside the run loop at the same time, spins a little, and exits with <c>Intr</c> (Pc stays).</summary>
public sealed record Exclusive : Step;

/// <summary>
/// A vCPU whose "instructions" are <see cref="Step"/>s: enough to drive Core's run contract with real
/// MMIO through the bus and the run area, without an architecture.
/// </summary>
public sealed class ScriptedVcpu : Vcpu
{
    public static readonly StatsSchema Schema = new(
        StatScope.Vcpu,
        VcpuStat.Descriptors,
        [new StatDescriptor("mmio_exit_user"), new StatDescriptor("mmio_exit_kernel"), new StatDescriptor("completions")]);

    public const int MmioExitUser = VcpuStat.Count;
    public const int MmioExitKernel = VcpuStat.Count + 1;
    public const int Completions = VcpuStat.Count + 2;

    private const int CompleteMmio = 1;
    private int _pendingRegister;

    public ScriptedVcpu(Vm vm, int id)
        : base(vm, id, Schema)
    {
    }

    public Step[] Program { get; set; } = [];

    public int Pc { get; set; }

    public ulong[] Registers { get; } = new ulong[8];

    public volatile bool InterruptPending;

    public volatile bool Spinning;

    /// <summary>How many <see cref="Exclusive"/> steps found another thread inside the run loop.</summary>
    public int Overlaps;

    private int _insideLoop;

    /// <summary>Set when the vCPU reaches a <see cref="HaltStep"/> (it is then polling or blocked).</summary>
    public volatile bool Halting;

    public VcpuRequest Requests => (VcpuRequest)Volatile.Read(ref RequestWord);

    protected override bool HasWakeupEvent() => InterruptPending;

    protected override bool CompletePending(int kind, out RunResult result)
    {
        Stats.Increment(Completions);
        ref var mmio = ref RunState.Mmio;
        if (!mmio.IsWrite)
        {
            Registers[_pendingRegister] = mmio.Value;
        }

        Pc++;
        result = RunResult.Ok;
        return true;
    }

    protected override RunResult RunLoop()
    {
        while (true)
        {
            if (TryConsumeKick())
            {
                Spinning = false;
                return RunResult.Interrupted;
            }

            Stats.Increment(VcpuStat.Exits);
            if (Pc >= Program.Length)
            {
                RunState.ExitReason = ExitReason.SystemEvent;
                RunState.SystemEvent.Type = SystemEventType.Shutdown;
                return RunResult.Ok;
            }

            switch (Program[Pc])
            {
                case Load load:
                {
                    Span<byte> data = stackalloc byte[load.Length];
                    if (Vm.MmioBus.Read(this, load.Address, data))
                    {
                        Stats.Increment(MmioExitKernel);
                        ulong v = 0;
                        for (int i = data.Length - 1; i >= 0; i--)
                        {
                            v = (v << 8) | data[i];
                        }

                        Registers[load.Register] = v;
                        Pc++;
                        break;
                    }

                    Stats.Increment(MmioExitUser);
                    ref var run = ref RunState;
                    run.ExitReason = ExitReason.Mmio;
                    run.Mmio.PhysAddr = load.Address;
                    run.Mmio.Length = (uint)load.Length;
                    run.Mmio.IsWrite = false;
                    _pendingRegister = load.Register;
                    SetPendingCompletion(CompleteMmio);
                    return RunResult.Ok;
                }

                case Store store:
                {
                    Span<byte> data = stackalloc byte[store.Length];
                    for (int i = 0; i < store.Length; i++)
                    {
                        data[i] = (byte)(store.Value >> (8 * i));
                    }

                    if (Vm.MmioBus.Write(this, store.Address, data))
                    {
                        Stats.Increment(MmioExitKernel);
                        Pc++;
                        break;
                    }

                    Stats.Increment(MmioExitUser);
                    ref var run = ref RunState;
                    run.ExitReason = ExitReason.Mmio;
                    run.Mmio.PhysAddr = store.Address;
                    run.Mmio.Length = (uint)store.Length;
                    run.Mmio.IsWrite = true;
                    run.Mmio.SetValue(store.Value);
                    SetPendingCompletion(CompleteMmio);
                    return RunResult.Ok;
                }

                case Increment inc:
                    Registers[inc.Register]++;
                    Pc++;
                    break;

                case HaltStep:
                    Halting = true;
                    if (Block() == HaltOutcome.Event)
                    {
                        InterruptPending = false;
                        Pc++;
                    }

                    break;

                case Spin:
                    Spinning = true;
                    Thread.SpinWait(100);
                    break;

                case Exclusive:
                    if (Interlocked.Increment(ref _insideLoop) != 1)
                    {
                        Interlocked.Increment(ref Overlaps);
                    }

                    Thread.SpinWait(20);
                    Interlocked.Decrement(ref _insideLoop);
                    RunState.ExitReason = ExitReason.Intr;
                    return RunResult.Ok;
            }
        }
    }
}

/// <summary>A VM of <see cref="ScriptedVcpu"/>s.</summary>
public sealed class ScriptedVm(int maxVcpus = 512) : Vm(maxVcpus, new StatsSchema(StatScope.Vm, VmStat.Descriptors))
{
    public new ScriptedVcpu CreateVcpu(int id) => (ScriptedVcpu)base.CreateVcpu(id);

    protected override Vcpu CreateVcpuCore(int id) => new ScriptedVcpu(this, id);
}

/// <summary>An in-kernel test device: a register file of bytes that records accesses.</summary>
public sealed class RecordingDevice : SoftKvm.Core.Io.IIoDevice
{
    public List<(bool Write, ulong Offset, int Length)> Accesses { get; } = [];

    public byte[] Memory { get; } = new byte[0x1000];

    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        Accesses.Add((false, offset, data.Length));
        Memory.AsSpan((int)offset, data.Length).CopyTo(data);
    }

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        Accesses.Add((true, offset, data.Length));
        data.CopyTo(Memory.AsSpan((int)offset, data.Length));
    }
}

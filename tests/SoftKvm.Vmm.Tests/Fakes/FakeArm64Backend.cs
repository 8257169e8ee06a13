using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Vmm.Arm64;

namespace SoftKvm.Vmm.Tests.Fakes;

/// <summary>An arm64 backend whose vCPUs play a script: by default vCPU 0 prints "Hi\n" on the PL011 and powers off.</summary>
internal sealed class FakeArm64Backend : IArm64VirtBackend
{
    public FakeVm? Vm { get; private set; }

    public GicVersion? Gic { get; private set; }

    public Dictionary<int, Arm64BootState> BootStates { get; } = [];

    public Dictionary<int, bool> Lines { get; } = [];

    public Action<FakeVm>? ScriptSetup { get; set; }

    public ulong GetMpidr(int vcpuId) => (1UL << 31) | (ulong)(vcpuId & 0xf) | ((ulong)((vcpuId >> 4) & 0xff) << 8);

    public IReadOnlyList<Arm64CpuModelInfo> CpuModels { get; } =
        [new(Arm64CpuModelInfo.DefaultName, "the fake default"), new("max", "the fake max", "pauth=qarma5|impdef: the fake algorithm")];

    public string? CpuModel { get; private set; }

    public Vm CreateVm(int cpus, GicVersion gic, string cpuModel)
    {
        Gic = gic;
        CpuModel = cpuModel;
        Vm = new FakeVm(cpus);
        return Vm;
    }

    public IIrqLine GetSpiLine(Vm vm, int intId) => new Line(this, intId);

    public void SetBootState(Vcpu vcpu, Arm64BootState state)
    {
        BootStates[vcpu.Id] = state;
        if (vcpu.Id == Vm!.MaxVcpus - 1)
        {
            if (ScriptSetup is { } setup)
            {
                setup(Vm);
            }
            else
            {
                Vm.Cpu(0).Script(
                    ScriptedVcpu.MmioWrite(VirtMemoryMap.UartBase, 'H'),
                    ScriptedVcpu.MmioWrite(VirtMemoryMap.UartBase, 'i'),
                    ScriptedVcpu.MmioWrite(VirtMemoryMap.UartBase, '\n'),
                    ScriptedVcpu.SystemEvent(Core.Run.SystemEventType.Shutdown));
            }
        }
    }

    public int SetupsCompleted { get; private set; }

    public void CompleteSetup(Vm vm)
    {
        Assert.Equal(vm.MaxVcpus, vm.Vcpus.Count);
        SetupsCompleted++;
    }

    /// <summary>The MSIs signalled (KVM_SIGNAL_MSI), with their DeviceIDs; each is answered with <see cref="MsiAnswer"/>.</summary>
    public List<(ulong Address, uint Data, uint DeviceId)> Msis { get; } = [];

    public MsiResult MsiAnswer { get; set; } = MsiResult.Delivered;

    public MsiResult SignalMsi(Vm vm, ulong address, uint data, uint deviceId)
    {
        Msis.Add((address, data, deviceId));
        return MsiAnswer;
    }

    public string DescribeInterruptController(Vm vm) => $"fake GIC{Gic}: {Lines.Count(l => l.Value)} lines high";

    private sealed class Line(FakeArm64Backend owner, int intId) : IIrqLine
    {
        public void Set(bool level) => owner.Lines[intId] = level;
    }
}

using SoftKvm.Core.Errors;
using SoftKvm.Core.Hooks;
using SoftKvm.Core.Io;
using SoftKvm.Core.Memory;
using SoftKvm.Core.Run;
using SoftKvm.Core.Stats;

namespace SoftKvm.Core;

/// <summary>
/// A virtual machine (KVM's <c>struct kvm</c>): memory slots, the MMIO and PIO buses, the vCPUs,
/// statistics. Architecture neutral; arm64 and x86 derive from it to create their vCPUs and in-kernel
/// interrupt controllers.
/// </summary>
public abstract partial class Vm : IDisposable
{
    private readonly object _vcpuLock = new();
    private Vcpu[] _vcpus = [];
    private IVcpuCreationGate? _creationGate;
    private bool _disposed;
    private long _maxHaltPollNs = DefaultMaxHaltPollNs;
    private int _blockedVcpus;

    /// <summary>Creates a VM that accepts vCPU ids 0..<paramref name="maxVcpus"/>-1.</summary>
    protected Vm(int maxVcpus, StatsSchema statsSchema)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxVcpus, 1);
        MaxVcpus = maxVcpus;
        Stats = new StatsBlock(statsSchema);
        Memory.Changed += () =>
        {
            foreach (var v in Vcpus)
            {
                v.MakeRequest(VcpuRequest.MemoryChanged);
            }
        };
        Hooks.Changed += () =>
        {
            foreach (var v in Vcpus)
            {
                v.MakeRequest(VcpuRequest.HooksChanged);
            }
        };
    }

    /// <summary>
    /// The embedder hooks (instruction, block, memory-access and exception hooks) every vCPU of this VM runs
    /// with (docs/hooks.md); empty by default, and then free.
    /// </summary>
    public VmHooks Hooks { get; } = new();

    /// <summary>The guest-physical memory.</summary>
    public GuestMemory Memory { get; } = new();

    /// <summary>The MMIO bus: in-kernel devices and ioeventfds on guest-physical addresses.</summary>
    public IoBus MmioBus { get; } = new(IoBusKind.Mmio);

    /// <summary>The PIO bus (x86 ports).</summary>
    public IoBus PioBus { get; } = new(IoBusKind.Pio);

    /// <summary>The highest vCPU id plus one.</summary>
    public int MaxVcpus { get; }

    /// <summary>The VM-scope counters.</summary>
    public StatsBlock Stats { get; }

    /// <summary>The default of <see cref="MaxHaltPollNs"/>: 200 µs, KVM's <c>halt_poll_ns</c> default on x86.</summary>
    public const long DefaultMaxHaltPollNs = 200_000;

    /// <summary>
    /// The longest a halted vCPU polls for its wake-up before it blocks, in nanoseconds (KVM_CAP_HALT_POLL;
    /// docs/kvm-semantics.md#halt-polling); 0 turns halt polling off. Each vCPU adapts its own window up to it.
    /// </summary>
    public long MaxHaltPollNs
    {
        get => Volatile.Read(ref _maxHaltPollNs);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _maxHaltPollNs, value);
        }
    }

    /// <summary>
    /// Whether a halting vCPU may poll: while the vCPUs that are not blocked (itself included) are no more than
    /// the host's processors and so are the host's runnable threads (<see cref="HostRunQueue"/>): the stand-in
    /// for KVM's "no other task wants this CPU" (<c>single_task_running</c>), so that polling never takes a
    /// processor another vCPU, of this VM or of anything else, needs.
    /// </summary>
    internal bool PollingAllowed() =>
        Vcpus.Count - Volatile.Read(ref _blockedVcpus) <= Environment.ProcessorCount
        && (!PollingChecksHostLoad || HostRunQueue.HasIdleProcessorsForPolling());

    /// <summary>Whether <see cref="PollingAllowed"/> asks the host's run queue (tests turn it off to poll on a loaded host).</summary>
    internal bool PollingChecksHostLoad { get; set; } = true;

    /// <summary>A vCPU starts blocking in a halt (see <see cref="PollingAllowed"/>).</summary>
    internal void EnterBlocking() => Interlocked.Increment(ref _blockedVcpus);

    /// <summary>A vCPU stops blocking.</summary>
    internal void LeaveBlocking() => Interlocked.Decrement(ref _blockedVcpus);

    /// <summary>The vCPUs, in creation order.</summary>
    public IReadOnlyList<Vcpu> Vcpus => Volatile.Read(ref _vcpus);

    /// <summary>Creates or replaces memory slot <paramref name="slot"/> (<c>KVM_SET_USER_MEMORY_REGION</c>).</summary>
    /// <exception cref="MemoryLayoutException">zero size, misaligned or overlapping.</exception>
    public MemorySlot SetMemoryRegion(int slot, GuestPhysAddr guestPhysBase, ulong size, MemorySlotFlags flags = MemorySlotFlags.None) =>
        Memory.SetRegion(slot, guestPhysBase, size, flags);

    /// <summary>Deletes memory slot <paramref name="slot"/>.</summary>
    /// <exception cref="UnknownSlotException">no such slot.</exception>
    public void DeleteMemoryRegion(int slot) => Memory.DeleteRegion(slot);

    /// <summary>Returns and clears the dirty bitmap of <paramref name="slot"/> (<c>KVM_GET_DIRTY_LOG</c>).</summary>
    public ulong[] GetDirtyLog(int slot) => Memory.GetDirtyLog(slot);

    /// <summary>
    /// Creates vCPU <paramref name="id"/> (<c>KVM_CREATE_VCPU</c>). An in-kernel interrupt controller's
    /// <see cref="IVcpuCreationGate"/> is asked first, as KVM's <c>kvm_arch_vcpu_precreate</c> is.
    /// </summary>
    /// <exception cref="VcpuException">id out of range (-EINVAL), refused by the interrupt controller, or already created.</exception>
    public Vcpu CreateVcpu(int id)
    {
        if (id < 0 || id >= MaxVcpus)
        {
            throw new VcpuException($"vCPU id {id} is outside 0..{MaxVcpus - 1}", KvmErrno.InvalidArgument);
        }

        lock (_vcpuLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _creationGate?.CheckVcpuCreation(id);
            foreach (var v in _vcpus)
            {
                if (v.Id == id)
                {
                    throw new VcpuException($"vCPU {id} already exists", KvmErrno.Exists);
                }
            }

            var vcpu = CreateVcpuCore(id);
            Volatile.Write(ref _vcpus, [.. _vcpus, vcpu]);
            return vcpu;
        }
    }

    /// <summary>
    /// Installs the vCPU-creation rule of the VM's in-kernel interrupt controller (done by the controller
    /// when it is created, as KVM's GIC creation sets <c>kvm->max_vcpus</c>). False when the VM has one already.
    /// </summary>
    public bool TryInstallVcpuCreationGate(IVcpuCreationGate gate)
    {
        ArgumentNullException.ThrowIfNull(gate);
        lock (_vcpuLock)
        {
            if (_creationGate is not null)
            {
                return false;
            }

            _creationGate = gate;
            return true;
        }
    }

    /// <summary>The vCPU with <paramref name="id"/>, or null.</summary>
    public Vcpu? GetVcpu(int id)
    {
        foreach (var v in Vcpus)
        {
            if (v.Id == id)
            {
                return v;
            }
        }

        return null;
    }

    /// <summary>Registers an ioeventfd on a bus (<c>KVM_IOEVENTFD</c>).</summary>
    public void RegisterIoEvent(IoBusKind bus, IoEvent ioEvent) => Bus(bus).RegisterIoEvent(ioEvent);

    /// <summary>Unregisters an ioeventfd.</summary>
    public void UnregisterIoEvent(IoBusKind bus, IoEvent ioEvent) => Bus(bus).UnregisterIoEvent(ioEvent);

    /// <summary>Registers a coalesced-MMIO (or PIO) zone (<c>KVM_REGISTER_COALESCED_MMIO</c>).</summary>
    public void RegisterCoalescedZone(IoBusKind bus, ulong address, ulong length) => Bus(bus).RegisterCoalescedZone(address, length);

    /// <summary>The bus of that kind.</summary>
    public IoBus Bus(IoBusKind kind) => kind == IoBusKind.Pio ? PioBus : MmioBus;

    /// <summary>
    /// Every statistic: VM counters, then vCPU counters summed over the vCPUs (peaks: the maximum).
    /// Reading changes nothing.
    /// </summary>
    public IReadOnlyList<StatValue> GetStatistics()
    {
        var result = new List<StatValue>();
        var vmDescriptors = Stats.Schema.Descriptors;
        for (int i = 0; i < vmDescriptors.Count; i++)
        {
            result.Add(new StatValue(vmDescriptors[i], StatScope.Vm, Stats[i]));
        }

        var vcpus = Vcpus;
        if (vcpus.Count > 0)
        {
            var schema = vcpus[0].Stats.Schema;
            for (int i = 0; i < schema.Descriptors.Count; i++)
            {
                var d = schema.Descriptors[i];
                ulong value = 0;
                foreach (var v in vcpus)
                {
                    value = d.Kind == StatKind.Peak ? Math.Max(value, v.Stats[i]) : value + v.Stats[i];
                }

                result.Add(new StatValue(d, StatScope.Vcpu, value));
            }
        }

        return result;
    }

    /// <summary>Kicks every vCPU (for example to stop the VM).</summary>
    public void KickAll()
    {
        foreach (var v in Vcpus)
        {
            v.Kick();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Creates the architecture's vCPU.</summary>
    protected abstract Vcpu CreateVcpuCore(int id);

    /// <summary>Disposes the vCPUs, then frees guest memory.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        lock (_vcpuLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var v in _vcpus)
            {
                v.Dispose();
            }

            _vcpus = [];
        }

        Memory.Dispose();
    }
}

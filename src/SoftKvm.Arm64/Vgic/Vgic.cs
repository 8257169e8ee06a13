using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The in-kernel GIC (KVM's VGIC) for arm64 VMs: GICv2 or GICv3 distributor, GICv3 redistributors
/// (one IO device each, spanning RD_base and SGI_base), the GICv2 memory-mapped CPU interface or the
/// GICv3 ICC_* system registers, and interrupt delivery to the vCPUs.
/// </summary>
/// <remarks>
/// <para>Life cycle, as KVM's device: create it with its model and vCPU count (refused for an unknown
/// model, more than 8 vCPUs on GICv2 / 512 on GICv3 (-E2BIG), or a second GIC on the VM (-EEXIST)).
/// From then on the VM refuses a vCPU the GIC cannot serve, as KVM does once the GIC exists: an id of
/// 8 or more on GICv2 (KVM's <c>max_vcpus</c>), or beyond the count given here, with -EINVAL; any vCPU
/// once the GIC is initialised, with -EBUSY (<c>kvm_arch_vcpu_precreate</c>). Set the base addresses
/// (<see cref="SetAddress"/> or the typed setters); create the vCPUs; call <see cref="Init"/>
/// (<c>KVM_DEV_ARM_VGIC_CTRL_INIT</c>; a GICv2 is also initialised lazily on the first run). Init
/// gives private interrupts their affinity (docs/kvm-semantics.md#vgic-private-irq-affinity: GICv2 target
/// masks for vCPUs 0..7 only, GICv3 MPIDRs for any vCPU) and registers the devices on
/// <see cref="Vm.MmioBus"/>.</para>
/// <para>Threading: one lock per VGIC guards all interrupt and CPU-interface state; it is a leaf lock
/// (nothing else is taken while it is held: waking a vCPU with
/// <see cref="Vcpu.MakeRequest"/> is an interlocked OR and an event set). Each vCPU's IRQ/FIQ output is
/// recomputed under the lock after every change and published in a volatile field, so
/// <see cref="HasPendingIrq"/> and <see cref="HasPendingFiq"/> take no lock; a vCPU whose output
/// changes gets <see cref="VcpuRequest.Event"/>.</para>
/// <para>Interrupt numbering: vCPU index = vCPU id (ids 0..N-1); SPIs are numbered from 0 as in device
/// trees (SPI n is INTID 32 + n).</para>
/// </remarks>
public sealed partial class Vgic : IArm64InterruptController, IVcpuCreationGate
{
    /// <summary>Private interrupts per vCPU (<c>VGIC_NR_PRIVATE_IRQS</c>).</summary>
    public const int NrPrivateIrqs = 32;

    /// <summary>SGIs per vCPU (<c>VGIC_NR_SGIS</c>).</summary>
    public const int NrSgis = 16;

    /// <summary>The SPI count when the VMM sets none (<c>VGIC_NR_IRQS_LEGACY</c> - 32).</summary>
    public const int DefaultSpiCount = 224;

    /// <summary>The largest SPI count (INTIDs up to 1019).</summary>
    public const int MaxSpiCount = 988;

    /// <summary><c>VGIC_V2_MAX_CPUS</c>.</summary>
    public const int MaxVcpusV2 = 8;

    /// <summary><c>VGIC_V3_MAX_CPUS</c>.</summary>
    public const int MaxVcpusV3 = 512;

    /// <summary><c>KVM_VGIC_V2_DIST_SIZE</c>.</summary>
    public const ulong V2DistributorSize = 0x1000;

    /// <summary><c>KVM_VGIC_V2_CPU_SIZE</c>.</summary>
    public const ulong V2CpuInterfaceSize = 0x2000;

    /// <summary><c>KVM_VGIC_V3_DIST_SIZE</c>.</summary>
    public const ulong V3DistributorSize = 0x10000;

    /// <summary><c>KVM_VGIC_V3_REDIST_SIZE</c>: RD_base and SGI_base, 64 KiB each.</summary>
    public const ulong RedistributorSize = 0x20000;

    /// <summary>Implemented priority bits (KVM's <c>VGIC_PRI_BITS</c>); the low three bits read as zero.</summary>
    public const int PriorityBits = 5;

    /// <summary>The INTID an acknowledge returns when nothing can be taken.</summary>
    public const int SpuriousIntId = 1023;

    /// <summary>GICD_IIDR / GICR_IIDR: ProductID 0x4B ('K'), Revision 2 (groups writable), Implementer 0x43B (Arm).</summary>
    public const uint Iidr = (0x4bu << 24) | (2u << 12) | 0x43bu;

    internal const byte PriorityMaskBits = 0xff << (8 - PriorityBits) & 0xff;

    private readonly VgicLock _lock;
    private readonly Vm _vm;
    private readonly VgicIrq[][] _private;
    private readonly VgicIrq[] _spis;
    private readonly CpuInterfaceState[] _cpu;
    private readonly int[] _irqOut;
    private readonly int[] _fiqOut;
    private readonly ulong[] _dirty;
    private readonly SpiLine?[] _spiLines;
    private readonly ulong[] _pendingSpis;

    // The bits set in _pendingSpis (kept with them in MarkIrqDirty).
    private int _pendingSpiCount;
    private readonly uint[] _pendingPrivate;
    private Vcpu?[]? _vcpus;
    private bool _distGroup0Enabled;
    private bool _distGroup1Enabled;
    private volatile bool _initialized;

    /// <summary>
    /// Creates the VGIC of <paramref name="vm"/> (<c>KVM_CREATE_DEVICE</c>) for <paramref name="vcpuCount"/>
    /// vCPUs (ids 0..vcpuCount-1) and <paramref name="spiCount"/> SPIs.
    /// </summary>
    /// <exception cref="VgicException">unknown model, too many vCPUs for the model (-E2BIG), a bad SPI count,
    /// a vCPU is running (-EBUSY), or the VM has an in-kernel GIC already (-EEXIST).</exception>
    public Vgic(Vm vm, GicModel model, int vcpuCount, int spiCount = DefaultSpiCount)
    {
        ArgumentNullException.ThrowIfNull(vm);
        if (model is not (GicModel.V2 or GicModel.V3))
        {
            throw new VgicException($"unknown GIC model {(int)model}: only GICv2 and GICv3 are supported");
        }

        int max = model == GicModel.V2 ? MaxVcpusV2 : MaxVcpusV3;
        int wanted = Math.Max(vcpuCount, vm.Vcpus.Count);
        if (wanted > max)
        {
            throw new VgicException($"GIC{ModelName(model)} supports at most {max} vCPUs, the VM has {wanted}", KvmErrno.TooBig);
        }

        if (vcpuCount < 1 || vcpuCount > vm.MaxVcpus)
        {
            throw new VgicException($"GIC vCPU count {vcpuCount} is outside 1..{Math.Min(max, vm.MaxVcpus)}");
        }

        if (spiCount < 0 || spiCount > MaxSpiCount || spiCount % 32 != 0 && spiCount != MaxSpiCount)
        {
            throw new VgicException($"GIC SPI count {spiCount} must be a multiple of 32 up to {MaxSpiCount}");
        }

        foreach (var v in vm.Vcpus)
        {
            if (v.IsRunning)
            {
                throw new VgicException($"cannot create a GIC: vCPU {v.Id} is running", KvmErrno.Busy);
            }
        }

        _vm = vm;
        _lock = new VgicLock(this);
        Model = model;
        VcpuCount = vcpuCount;
        SpiCount = spiCount;
        _private = new VgicIrq[vcpuCount][];
        _cpu = new CpuInterfaceState[vcpuCount];
        for (int v = 0; v < vcpuCount; v++)
        {
            // Early per-vCPU init (docs/kvm-semantics.md#vgic-private-irq-affinity): INTID, owner, config and
            // SGI enable only; targets, MPIDR and group wait for Init, when the model's rules apply.
            var irqs = new VgicIrq[NrPrivateIrqs];
            for (int i = 0; i < NrPrivateIrqs; i++)
            {
                irqs[i] = new VgicIrq(i, v) { TracksSgiSources = model == GicModel.V2 && i < NrSgis };
            }

            _private[v] = irqs;
            _cpu[v] = new CpuInterfaceState();
        }

        _spis = new VgicIrq[spiCount];
        for (int i = 0; i < spiCount; i++)
        {
            _spis[i] = new VgicIrq(NrPrivateIrqs + i, -1);
        }

        _irqOut = new int[vcpuCount];
        _fiqOut = new int[vcpuCount];
        _dirty = new ulong[(vcpuCount + 63) / 64];
        _spiLines = new SpiLine?[spiCount];
        _pendingSpis = new ulong[(spiCount + 63) / 64];
        _pendingPrivate = new uint[vcpuCount];
        _pendBaser = new ulong[vcpuCount];
        _lpisEnabled = new bool[vcpuCount];
        _eoiSlots = model == GicModel.V3 ? GC.AllocateArray<ulong>(vcpuCount, pinned: true) : null;
        if (!vm.TryInstallVcpuCreationGate(this))
        {
            throw new VgicException("the VM has an in-kernel interrupt controller already", KvmErrno.Exists);
        }
    }

    /// <summary>The GIC architecture.</summary>
    public GicModel Model { get; }

    /// <summary>The number of vCPUs (ids 0..VcpuCount-1).</summary>
    public int VcpuCount { get; }

    /// <summary>The number of SPIs (INTIDs 32..32+SpiCount-1).</summary>
    public int SpiCount { get; }

    /// <summary>INTIDs 0..NrIrqs-1 exist.</summary>
    public int NrIrqs => NrPrivateIrqs + SpiCount;

    /// <summary>Whether <see cref="Init"/> has run.</summary>
    public bool IsInitialized => _initialized;

    internal VgicLock Lock => _lock;

    internal CpuInterfaceState Cpu(int vcpu) => _cpu[vcpu];

    internal VgicIrq PrivateIrq(int vcpu, int intId) => _private[vcpu][intId];

    internal VgicIrq Spi(int spi) => _spis[spi];

    /// <inheritdoc />
    public bool HasPendingIrq(int vcpuId) => (uint)vcpuId < (uint)VcpuCount && Volatile.Read(ref _irqOut[vcpuId]) != 0;

    /// <inheritdoc />
    public bool HasPendingFiq(int vcpuId) => (uint)vcpuId < (uint)VcpuCount && Volatile.Read(ref _fiqOut[vcpuId]) != 0;

    /// <summary>
    /// KVM's <c>kvm_arch_vcpu_precreate</c> with this GIC: -EBUSY once initialised, -EINVAL for an id
    /// the model cannot target (GICv2: 8 and above, KVM's <c>max_vcpus</c>) or beyond the vCPU count
    /// this GIC was created for (its per-vCPU state is sized at creation);
    /// docs/kvm-semantics.md#a-vcpu-the-gic-cannot-serve.
    /// </summary>
    /// <exception cref="VcpuException">the vCPU may not be created.</exception>
    public void CheckVcpuCreation(int id)
    {
        if (_initialized)
        {
            throw new VcpuException($"vCPU {id} cannot be created: the GIC{ModelName(Model)} is initialised", KvmErrno.Busy);
        }

        int max = Model == GicModel.V2 ? MaxVcpusV2 : MaxVcpusV3;
        if (id >= max)
        {
            throw new VcpuException($"vCPU {id} cannot be created: GIC{ModelName(Model)} targets at most {max} vCPUs (ids 0..{max - 1})", KvmErrno.InvalidArgument);
        }

        if (id >= VcpuCount)
        {
            throw new VcpuException($"vCPU {id} cannot be created: the GIC{ModelName(Model)} was created for {VcpuCount} vCPUs (ids 0..{VcpuCount - 1})", KvmErrno.InvalidArgument);
        }
    }

    /// <summary>
    /// First run of a vCPU: initialises the VGIC if the VMM has not (KVM's lazy init); returns
    /// <see cref="RunResult.NoDevice"/> (-ENXIO) when that fails (call <see cref="Init"/> to see why).
    /// </summary>
    public RunResult OnFirstRun(int vcpuId)
    {
        if ((uint)vcpuId >= (uint)VcpuCount)
        {
            return RunResult.NoDevice;
        }

        if (!_initialized)
        {
            try
            {
                Init();
            }
            catch (VgicException)
            {
                return RunResult.NoDevice;
            }
        }

        return RunResult.Ok;
    }

    private static string ModelName(GicModel model) => model == GicModel.V2 ? "v2" : "v3";
}

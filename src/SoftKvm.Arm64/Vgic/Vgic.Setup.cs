using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>Base addresses, redistributor regions and initialisation
/// (docs/kvm-semantics.md#vgic-private-irq-affinity, #gicv3-redistributor-regions).</summary>
public sealed partial class Vgic
{
    private readonly List<RedistributorRegion> _regions = [];
    private ulong? _distributorBase;
    private ulong? _cpuInterfaceBase;
    private Distributor? _distributor;
    private GicV2CpuInterface? _cpuInterface;
    private Redistributor[] _redistributors = [];

    /// <summary>The distributor base, once set.</summary>
    public ulong? DistributorBase => _distributorBase;

    /// <summary>The GICv2 CPU interface base, once set.</summary>
    public ulong? CpuInterfaceBase => _cpuInterfaceBase;

    /// <summary>The GICv3 redistributor regions, by index.</summary>
    public IReadOnlyList<RedistributorRegion> RedistributorRegions => _regions;

    /// <summary>The IO devices registered on the MMIO bus by <see cref="Init"/> (distributor, CPU interface, redistributors).</summary>
    public IReadOnlyList<IIoDevice> Devices
    {
        get
        {
            var list = new List<IIoDevice>();
            if (_distributor is not null)
            {
                list.Add(_distributor);
            }

            if (_cpuInterface is not null)
            {
                list.Add(_cpuInterface);
            }

            list.AddRange(_redistributors);
            return list;
        }
    }

    /// <summary>
    /// Sets a base address as <c>KVM_DEV_ARM_VGIC_GRP_ADDR</c> does; for
    /// <see cref="VgicAddressType.V3RedistributorRegion"/> <paramref name="value"/> packs count [63:52],
    /// base [51:16], flags [15:12] (must be 0) and index [11:0].
    /// </summary>
    /// <exception cref="VgicException">wrong model for the type, misaligned, already set, overlapping, the ITS, or after init.</exception>
    public void SetAddress(VgicAddressType type, ulong value)
    {
        switch (type)
        {
            case VgicAddressType.V2Distributor:
                RequireModel(GicModel.V2, "a GICv2 distributor address");
                SetDistributorBase(value);
                break;
            case VgicAddressType.V2CpuInterface:
                RequireModel(GicModel.V2, "a GICv2 CPU interface address");
                SetCpuInterfaceBase(value);
                break;
            case VgicAddressType.V3Distributor:
                RequireModel(GicModel.V3, "a GICv3 distributor address");
                SetDistributorBase(value);
                break;
            case VgicAddressType.V3Redistributor:
                SetRedistributorBase(value);
                break;
            case VgicAddressType.V3RedistributorRegion:
                if (((value >> 12) & 0xf) != 0)
                {
                    throw new VgicException($"redistributor region attribute 0x{value:x} has non-zero flags");
                }

                AddRedistributorRegion((int)(value & 0xfff), value & 0x000f_ffff_ffff_0000UL, (int)(value >> 52));
                break;
            case VgicAddressType.Its:
                throw new VgicException("the ITS address is an attribute of the ITS device: CreateIts, then VgicIts.SetBaseAddress", KvmErrno.NoDevice);
            default:
                throw new VgicException($"unknown VGIC address type {(int)type}");
        }
    }

    /// <summary>Sets the distributor base (4 KiB aligned for GICv2, 64 KiB for GICv3).</summary>
    /// <exception cref="VgicException">misaligned, already set, overlapping, or after init.</exception>
    public void SetDistributorBase(ulong address)
    {
        using (_lock.Hold())
        {
            RequireNotInitialized();
            ulong size = Model == GicModel.V2 ? V2DistributorSize : V3DistributorSize;
            CheckBase("distributor", address, size, Model == GicModel.V2 ? 0x1000UL : 0x10000UL, _distributorBase);
            CheckNoOverlap("distributor", address, size, skipDistributor: true);
            _distributorBase = address;
        }
    }

    /// <summary>Sets the GICv2 CPU interface base (4 KiB aligned, 8 KiB long).</summary>
    /// <exception cref="VgicException">not GICv2, misaligned, already set, overlapping, or after init.</exception>
    public void SetCpuInterfaceBase(ulong address)
    {
        using (_lock.Hold())
        {
            RequireModel(GicModel.V2, "a CPU interface address");
            RequireNotInitialized();
            CheckBase("CPU interface", address, V2CpuInterfaceSize, 0x1000, _cpuInterfaceBase);
            CheckNoOverlap("CPU interface", address, V2CpuInterfaceSize, skipCpuInterface: true);
            _cpuInterfaceBase = address;
        }
    }

    /// <summary>
    /// Sets the legacy GICv3 redistributor base (<c>KVM_VGIC_V3_ADDR_TYPE_REDIST</c>): one region that
    /// holds every vCPU's redistributor, 0x20000 bytes apart.
    /// </summary>
    /// <exception cref="VgicException">not GICv3, misaligned, a region already set, overlapping, or after init.</exception>
    public void SetRedistributorBase(ulong address)
    {
        using (_lock.Hold())
        {
            RequireModel(GicModel.V3, "a redistributor address");
            RequireNotInitialized();
            if (_regions.Count != 0)
            {
                throw new VgicException(_regions[0].IsLegacy
                    ? "the GICv3 redistributor base is already set"
                    : "a legacy redistributor base cannot be mixed with redistributor regions");
            }

            var region = new RedistributorRegion(0, address, VcpuCount, IsLegacy: true);
            CheckBase("redistributor region 0", address, region.Size, 0x10000, null);
            CheckNoOverlap("redistributor region 0", address, region.Size);
            _regions.Add(region);
        }
    }

    /// <summary>
    /// Adds GICv3 redistributor region <paramref name="index"/> (<c>KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION</c>)
    /// of <paramref name="count"/> redistributors at <paramref name="address"/>; indexes are consecutive from 0.
    /// </summary>
    /// <exception cref="VgicException">not GICv3, index out of order, zero count, misaligned, overlapping, mixed with a legacy base, or after init.</exception>
    public void AddRedistributorRegion(int index, ulong address, int count)
    {
        using (_lock.Hold())
        {
            RequireModel(GicModel.V3, "a redistributor region");
            RequireNotInitialized();
            if (_regions.Count != 0 && _regions[0].IsLegacy)
            {
                throw new VgicException("redistributor regions cannot be mixed with a legacy redistributor base");
            }

            if (index != _regions.Count)
            {
                throw new VgicException($"redistributor region index {index} is out of order: expected {_regions.Count}");
            }

            if (count <= 0)
            {
                throw new VgicException($"redistributor region {index} has no redistributors");
            }

            var region = new RedistributorRegion(index, address, count, IsLegacy: false);
            CheckBase($"redistributor region {index}", address, region.Size, 0x10000, null);
            CheckNoOverlap($"redistributor region {index}", address, region.Size);
            _regions.Add(region);
        }
    }

    /// <summary>The guest-physical base of <paramref name="vcpuId"/>'s redistributor (GICv3, after init), or null.</summary>
    public ulong? GetRedistributorBase(int vcpuId)
    {
        var rd = _redistributors;
        return (uint)vcpuId < (uint)rd.Length ? rd[vcpuId].Base : null;
    }

    /// <summary>
    /// Initialises the VGIC (<c>KVM_DEV_ARM_VGIC_CTRL_INIT</c>,
    /// docs/kvm-semantics.md#vgic-private-irq-affinity) once every vCPU exists: gives the private interrupts
    /// of each vCPU their affinity and group (GICv2: target mask 1 &lt;&lt; index, group 0; GICv3: the vCPU's
    /// MPIDR affinity, group 1), the SPIs theirs, assigns each vCPU a redistributor slot, and registers the
    /// distributor, the GICv2 CPU interface or one device per redistributor on the MMIO bus. Does nothing
    /// when already initialised. On failure nothing stays registered and the VGIC stays uninitialised.
    /// </summary>
    /// <exception cref="VgicException">vCPUs missing, an address unset, frames overlapping, or the bus refuses a range.</exception>
    public void Init()
    {
        using (_lock.Hold())
        {
            if (_initialized)
            {
                return;
            }

            var vcpus = CollectVcpus();
            if (_distributorBase is not ulong distBase)
            {
                throw new VgicException($"GIC{ModelName(Model)} init: the distributor address is not set");
            }

            ulong cpuBase = 0;
            if (Model == GicModel.V2)
            {
                if (_cpuInterfaceBase is not ulong cb)
                {
                    throw new VgicException("GICv2 init: the CPU interface address is not set");
                }

                cpuBase = cb;
            }

            var redistBases = Model == GicModel.V3 ? AssignRedistributors() : null;
            ApplyAffinity();

            var distributor = new Distributor(this);
            var cpuInterface = Model == GicModel.V2 ? new GicV2CpuInterface(this) : null;
            var redistributors = new Redistributor[redistBases?.Length ?? 0];
            for (int v = 0; v < redistributors.Length; v++)
            {
                redistributors[v] = new Redistributor(this, v, redistBases![v].Base, redistBases[v].Last);
            }

            RegisterDevices(distBase, distributor, cpuBase, cpuInterface, redistributors);
            _distributor = distributor;
            _cpuInterface = cpuInterface;
            _redistributors = redistributors;
            _vcpus = vcpus;
            _initialized = true;
            MarkAllDirty();
            FlushLocked();
        }
    }

    private Vcpu?[] CollectVcpus()
    {
        var list = _vm.Vcpus;
        var vcpus = new Vcpu?[VcpuCount];
        int found = 0;
        foreach (var v in list)
        {
            if (v.Id < VcpuCount)
            {
                vcpus[v.Id] = v;
                found++;
            }
        }

        if (found != VcpuCount || list.Count != VcpuCount)
        {
            throw new VgicException(
                $"GIC{ModelName(Model)} init needs vCPUs 0..{VcpuCount - 1} to exist; the VM has {list.Count} vCPUs");
        }

        return vcpus;
    }

    // docs/kvm-semantics.md#gicv3-redistributor-regions: every vCPU takes the first region with a free slot,
    // in index order.
    private (ulong Base, bool Last)[] AssignRedistributors()
    {
        if (_regions.Count == 0)
        {
            throw new VgicException("GICv3 init: no redistributor address is set");
        }

        var result = new (ulong Base, bool Last)[VcpuCount];
        var used = new int[_regions.Count];
        int r = 0;
        for (int v = 0; v < VcpuCount; v++)
        {
            while (r < _regions.Count && used[r] == _regions[r].Count)
            {
                r++;
            }

            if (r == _regions.Count)
            {
                int capacity = _regions.Sum(x => x.Count);
                throw new VgicException(
                    $"GICv3 init: vCPU {v} has no redistributor: the regions hold {capacity} of {VcpuCount}");
            }

            result[v] = (_regions[r].Base + (ulong)used[r] * RedistributorSize, false);
            used[r]++;
        }

        // Last (GICR_TYPER bit 4): the last used slot of its region, unless the region is full and
        // another region holding redistributors starts exactly at its end.
        int first = 0;
        for (int i = 0; i < _regions.Count; i++)
        {
            if (used[i] == 0)
            {
                continue;
            }

            int lastVcpu = first + used[i] - 1;
            bool contiguous = false;
            if (used[i] == _regions[i].Count)
            {
                for (int j = 0; j < _regions.Count; j++)
                {
                    contiguous |= j != i && used[j] > 0 && _regions[j].Base == _regions[i].End;
                }
            }

            result[lastVcpu].Last = !contiguous;
            first += used[i];
        }

        return result;
    }

    // docs/kvm-semantics.md#vgic-private-irq-affinity: the model is known, so the model's fields are set and
    // nothing else.
    private void ApplyAffinity()
    {
        for (int v = 0; v < VcpuCount; v++)
        {
            foreach (var irq in _private[v])
            {
                if (Model == GicModel.V3)
                {
                    irq.Group = 1;
                    irq.Mpidr = Mpidr.Affinity(Mpidr.FromVcpuId(v));
                    irq.Targets = 0;
                }
                else
                {
                    // GICv2: v < MaxVcpusV2 (8) was checked at creation, so the mask fits a byte.
                    irq.Group = 0;
                    irq.Targets = (byte)(1 << v);
                    irq.Mpidr = 0;
                }

                irq.TargetVcpu = v;
            }
        }

        foreach (var spi in _spis)
        {
            spi.Group = Model == GicModel.V3 ? 1 : 0;
        }
    }

    private void RegisterDevices(ulong distBase, Distributor distributor, ulong cpuBase, GicV2CpuInterface? cpuInterface, Redistributor[] redistributors)
    {
        var bus = _vm.MmioBus;
        var registered = new List<IIoDevice>();
        try
        {
            bus.Register(distBase, Model == GicModel.V2 ? V2DistributorSize : V3DistributorSize, distributor);
            registered.Add(distributor);
            if (cpuInterface is not null)
            {
                bus.Register(cpuBase, V2CpuInterfaceSize, cpuInterface);
                registered.Add(cpuInterface);
            }

            foreach (var rd in redistributors)
            {
                bus.Register(rd.Base, RedistributorSize, rd);
                registered.Add(rd);
            }
        }
        catch (IoBusException e)
        {
            foreach (var device in registered)
            {
                bus.Unregister(device);
            }

            throw new VgicException($"GIC{ModelName(Model)} init: {e.Message}");
        }
    }

    private void RequireModel(GicModel model, string what)
    {
        if (Model != model)
        {
            throw new VgicException($"{what} needs GIC{ModelName(model)}; this VGIC is GIC{ModelName(Model)}");
        }
    }

    private void RequireNotInitialized()
    {
        if (_initialized)
        {
            throw new VgicException("the VGIC is initialised: its addresses cannot change");
        }
    }

    private static void CheckBase(string what, ulong address, ulong size, ulong alignment, ulong? current)
    {
        if (current is not null)
        {
            throw new VgicException($"the GIC {what} address is already set (0x{current:x})");
        }

        if ((address & (alignment - 1)) != 0)
        {
            throw new VgicException($"the GIC {what} address 0x{address:x} is not aligned to 0x{alignment:x}");
        }

        if (address + size < address || address + size > 1UL << 52)
        {
            throw new VgicException($"the GIC {what} at 0x{address:x} size 0x{size:x} is outside the address space");
        }
    }

    private void CheckNoOverlap(string what, ulong address, ulong size, bool skipDistributor = false, bool skipCpuInterface = false)
    {
        void Check(string other, ulong b, ulong s)
        {
            if (address < b + s && b < address + size)
            {
                throw new VgicException($"the GIC {what} at 0x{address:x} overlaps the {other} at 0x{b:x}");
            }
        }

        if (!skipDistributor && _distributorBase is ulong d)
        {
            Check("distributor", d, Model == GicModel.V2 ? V2DistributorSize : V3DistributorSize);
        }

        if (!skipCpuInterface && _cpuInterfaceBase is ulong c)
        {
            Check("CPU interface", c, V2CpuInterfaceSize);
        }

        foreach (var r in _regions)
        {
            Check($"redistributor region {r.Index}", r.Base, r.Size);
        }
    }
}

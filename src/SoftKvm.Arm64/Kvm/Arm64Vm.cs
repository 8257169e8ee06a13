using SoftKvm.Arm64.Cpu;
using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Core.Errors;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// An arm64 virtual machine: up to 512 vCPUs (KVM's KVM_MAX_VCPUS on arm64 with GICv3), an optional
/// in-kernel interrupt controller (the VGIC sets <see cref="InterruptController"/>), and the
/// <see cref="NisvToUser"/> capability.
/// </summary>
public sealed partial class Arm64Vm : Vm
{
    /// <summary>The highest number of vCPUs per VM.</summary>
    public const int MaxVcpuCount = 512;

    /// <summary>Creates an empty VM (no memory, no vCPUs, no interrupt controller).</summary>
    public Arm64Vm()
        : base(MaxVcpuCount, Arm64Stat.VmSchema)
    {
    }

    /// <summary>The in-kernel interrupt controller, or null (no irqchip: ICC_* registers are UNDEFINED).</summary>
    public IArm64InterruptController? InterruptController { get; set; }

    /// <summary>
    /// KVM_CAP_ARM_NISV_TO_USER: a data abort outside memory without a valid syndrome exits with
    /// <c>ArmNisv</c>; when false, <see cref="Vcpu.Run"/> fails with <c>NoSyndrome</c> (-ENOSYS).
    /// </summary>
    public bool NisvToUser { get; set; }

    internal CpuShared Shared { get; } = new();

    /// <summary>
    /// KVM_SIGNAL_MSI: device <paramref name="deviceId"/> (a PCI requester ID as the device tree's msi-map
    /// gives it) writes <paramref name="data"/> to <paramref name="address"/>, an ITS doorbell. Without an
    /// interrupt controller that has an ITS: <see cref="MsiResult.NoController"/>, as KVM's -ENODEV.
    /// </summary>
    public MsiResult SignalMsi(ulong address, uint data, uint deviceId) =>
        InterruptController?.SignalMsi(address, data, deviceId) ?? MsiResult.NoController;

    private CpuModel _cpuModel = CpuModel.CortexA57;

    /// <summary>
    /// The CPU models as (name, one-line description, the options <c>NAME,OPTION</c> takes or null), the
    /// default first (<c>softkvm run --cpu help</c>).
    /// </summary>
    public static IReadOnlyList<(string Name, string Description, string? Options)> CpuModelList { get; } =
        [.. CpuModel.All.Select(m => (m.Name, m.Description, m.Has(CpuFeatures.Pauth) ? CpuModel.OptionsHelp : null))];

    /// <summary>Chooses <see cref="CpuModel"/> by name and options (<see cref="CpuModel.Parse"/>, case-insensitive), before the first vCPU.</summary>
    /// <exception cref="VcpuException">no such model or option (EINVAL), or a vCPU exists already (EBUSY).</exception>
    public void SetCpuModel(string spec) =>
        CpuModel = CpuModel.Parse(spec, out string? error) ?? throw new VcpuException(error!, KvmErrno.InvalidArgument);

    /// <summary>
    /// The CPU model every vCPU of this VM implements (default <see cref="CpuModel.CortexA57"/>): its
    /// MIDR_EL1, ID registers and optional features. Like KVM's VM-wide ID registers (writable until the
    /// VM runs), it is chosen before the first vCPU is created, and every vCPU gets it at creation.
    /// </summary>
    /// <exception cref="VcpuException">a vCPU exists already (EBUSY).</exception>
    public CpuModel CpuModel
    {
        get => _cpuModel;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (Vcpus.Count > 0)
            {
                throw new VcpuException("the CPU model is chosen before the first vCPU is created", KvmErrno.Busy);
            }

            _cpuModel = value;
        }
    }

    /// <summary>Creates arm64 vCPU <paramref name="id"/> (<c>KVM_CREATE_VCPU</c>); it must be <see cref="Arm64Vcpu.Init"/>ed before it runs.</summary>
    public new Arm64Vcpu CreateVcpu(int id) => (Arm64Vcpu)base.CreateVcpu(id);

    /// <summary>The vCPU whose MPIDR affinity is <paramref name="mpidr"/> (bits other than Aff3..Aff0 ignored), or null.</summary>
    public Arm64Vcpu? FindVcpuByMpidr(ulong mpidr)
    {
        ulong affinity = Mpidr.Affinity(mpidr);
        foreach (var v in Vcpus)
        {
            var a = (Arm64Vcpu)v;
            if (Mpidr.Affinity(a.Mpidr) == affinity)
            {
                return a;
            }
        }

        return null;
    }

    /// <inheritdoc />
    protected override Vcpu CreateVcpuCore(int id) => new Arm64Vcpu(this, id);
}

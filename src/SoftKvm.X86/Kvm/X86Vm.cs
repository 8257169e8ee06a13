using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.X86.Irqchip;

namespace SoftKvm.X86.Kvm;

/// <summary>
/// An x86 virtual machine (KVM's <c>struct kvm</c> on x86): memory slots, the MMIO and PIO buses, the
/// vCPUs and, on request, the in-kernel irqchip (<see cref="CreateIrqchip"/>: local APICs, IOAPIC,
/// PIC pair, PIT). Without an irqchip HLT exits to the VMM and the VMM injects interrupts with
/// <see cref="X86Vcpu.InjectInterrupt"/>.
/// </summary>
public sealed partial class X86Vm : Vm
{
    /// <summary>The highest number of vCPUs per VM (KVM's KVM_MAX_VCPUS of 2019).</summary>
    public const int MaxVcpuCount = 288;

    /// <summary>Creates an empty VM (no memory, no vCPUs, no irqchip).</summary>
    public X86Vm()
        : base(MaxVcpuCount, X86Stat.VmSchema)
    {
    }

    /// <summary>The in-kernel irqchip, or null.</summary>
    public X86Irqchip? Irqchip { get; private set; }

    /// <summary>
    /// KVM's <c>kvm.force_emulation_prefix</c> (off by default): a #UD on <c>ud2; .ascii "kvm"</c> skips those
    /// five bytes and sends the instruction after them to the instruction emulator (EMULTYPE_TRAP_UD_FORCED),
    /// the way KVM's own tests reach emulator paths from guest code. Off, the bytes are an ordinary UD2.
    /// </summary>
    public bool ForceEmulationPrefix { get; set; }

    /// <summary>The time stamp counter frequency of every vCPU (Hz); set before creating vCPUs.</summary>
    public long TscFrequency { get; set; } = 1_000_000_000;

    /// <summary>
    /// <c>KVM_CREATE_IRQCHIP</c>: creates the local APICs, IOAPIC, PIC pair and PIT and registers them on
    /// the buses. Must come before the first vCPU, as in KVM.
    /// </summary>
    /// <exception cref="VcpuException">vCPUs exist already, or the irqchip exists.</exception>
    public X86Irqchip CreateIrqchip()
    {
        if (Irqchip is not null)
        {
            throw new VcpuException("the in-kernel irqchip exists already");
        }

        if (Vcpus.Count != 0)
        {
            throw new VcpuException("the in-kernel irqchip must be created before the vCPUs");
        }

        Irqchip = new X86Irqchip(this);
        return Irqchip;
    }

    /// <summary>Creates x86 vCPU <paramref name="id"/> (<c>KVM_CREATE_VCPU</c>) in the RESET state; with an irqchip, vCPUs other than 0 wait for INIT/SIPI.</summary>
    public new X86Vcpu CreateVcpu(int id) => (X86Vcpu)base.CreateVcpu(id);

    /// <summary>The vCPU whose local APIC has id <paramref name="apicId"/> (its vCPU id without an irqchip), or null.</summary>
    internal X86Vcpu? VcpuByApicId(uint apicId)
    {
        foreach (var v in Vcpus)
        {
            var x = (X86Vcpu)v;
            if ((uint)(x.Apic?.Id ?? x.Id) == apicId)
            {
                return x;
            }
        }

        return null;
    }

    /// <inheritdoc />
    protected override Vcpu CreateVcpuCore(int id) => new X86Vcpu(this, id);
}

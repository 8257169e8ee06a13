namespace SoftKvm.X86.Irqchip;

/// <summary>
/// What a local APIC needs of the vCPU it sits in (the vCPU implements it): its id, the IA32_APIC_BASE
/// MSR and the TSC, which the CPU model owns, and a way to tell the vCPU that its interrupt state
/// changed. The interrupt controllers know no vCPU type and no CPU model.
/// </summary>
internal interface IApicHost
{
    /// <summary>The vCPU id, which is the APIC id (as KVM assigns it).</summary>
    int Id { get; }

    /// <summary>IA32_APIC_BASE (MSR 0x1B) as the CPU model holds it.</summary>
    ulong ApicBaseMsr { get; }

    /// <summary>The frequency of the vCPU's time stamp counter, in Hz.</summary>
    long TscFrequency { get; }

    /// <summary>The guest TSC now (for the TSC-deadline timer).</summary>
    ulong ReadTsc();

    /// <summary>
    /// The vCPU's interrupt state changed (any thread): wake it when halted and, when
    /// <paramref name="kick"/>, stop a running CPU model at its next instruction.
    /// </summary>
    void NotifyEvent(bool kick);
}

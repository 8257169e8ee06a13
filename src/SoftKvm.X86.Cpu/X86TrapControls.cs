namespace SoftKvm.X86.Cpu;

/// <summary>
/// What the hypervisor wants to intercept, like the VMX execution controls KVM programs.
/// </summary>
public sealed class X86TrapControls
{
    /// <summary>Bit n set: exception vector n exits with <see cref="X86ExitReason.ExceptionOrNmi"/>
    /// instead of being delivered through the guest IDT (KVM sets #DB and #BP for guest debugging).</summary>
    public uint ExceptionBitmap { get; set; }

    /// <summary>CPUID exits instead of being answered by the model.</summary>
    public bool InterceptCpuid { get; set; }

    /// <summary>Every RDMSR/WRMSR exits (otherwise only unknown MSRs exit).</summary>
    public bool InterceptMsrs { get; set; }

    /// <summary>Models a nested hypervisor that does not fill the VM-exit instruction length for
    /// EPT exits (as Hyper-V for EPT misconfigurations): <see cref="X86Exit.InstructionLengthValid"/> is
    /// false on <see cref="X86ExitReason.EptViolation"/> and the hypervisor must decode to skip.</summary>
    public bool WithholdEptInstructionLength { get; set; }
}

using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.X86;

/// <summary>The options of the x86 PC (<c>softkvm run --arch x86_64</c>).</summary>
public sealed record PcOptions : IMachineOptions
{
    /// <summary>
    /// EPT exits carry no instruction length on every vCPU, as a VMX hypervisor running nested sees them
    /// for EPT misconfigurations, so the hypervisor decodes the instruction to skip it
    /// (<c>--x86-withhold-insn-length</c>).
    /// </summary>
    public bool WithholdInstructionLength { get; init; }
}

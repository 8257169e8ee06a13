namespace SoftKvm.Architecture.Tests;

/// <summary>
/// The house (docs/architecture.md): three layers whose dependencies point down. The software CPUs are
/// the hardware and know only Core's guest memory; the hypervisor layers own their CPU and the in-kernel
/// interrupt controllers; the devices know only Core; the VMM reaches each architecture through its
/// hypervisor layer, never a CPU model; Core knows nothing of ours.
/// </summary>
internal static class HouseRules
{
    /// <summary>Every assembly built from src/ and the assemblies of ours it may reference (nothing else).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> AllowedReferences = new Dictionary<string, string[]>
    {
        ["SoftKvm.Core"] = [],
        ["SoftKvm.Arm64.Cpu"] = ["SoftKvm.Core"],
        ["SoftKvm.X86.Cpu"] = ["SoftKvm.Core"],
        ["SoftKvm.Arm64"] = ["SoftKvm.Core", "SoftKvm.Arm64.Cpu"],
        ["SoftKvm.X86"] = ["SoftKvm.Core", "SoftKvm.X86.Cpu"],
        ["SoftKvm.Devices"] = ["SoftKvm.Core"],
        ["SoftKvm.Vmm"] = ["SoftKvm.Core", "SoftKvm.Devices", "SoftKvm.Arm64", "SoftKvm.X86"],
        ["softkvm"] = ["SoftKvm.Core", "SoftKvm.Devices", "SoftKvm.Vmm"],
    };

    /// <summary>
    /// Arrows between namespaces that the assembly references cannot show (they sit in one assembly, or
    /// the assembly may reference the target for other parts): code in a namespace starting with
    /// <c>From</c> must not use a type of a namespace starting with any of <c>To</c>.
    /// </summary>
    public static readonly (string From, string[] To, string Why)[] ForbiddenNamespaceArrows =
    [
        ("SoftKvm.X86.Irqchip", ["SoftKvm.X86.Kvm", "SoftKvm.X86.Cpu"],
            "the x86 interrupt controllers reach their vCPU through IApicHost, never a vCPU type or the CPU model"),
        ("SoftKvm.Arm64.Kvm", ["SoftKvm.Arm64.Vgic"],
            "the arm64 vCPU sees its interrupt controller through IArm64InterruptController"),
        ("SoftKvm.Vmm.Machines", MachineSpecific, "the machine catalog and configuration are machine-neutral"),
        ("SoftKvm.Vmm.Loaders", MachineSpecific, "image formats and boot protocols are machine-neutral"),
        ("SoftKvm.Vmm.Runner", MachineSpecific, "the vCPU threads and exit loop are machine-neutral"),
        ("SoftKvm.Vmm.Fdt", MachineSpecific, "the device-tree builder is machine-neutral"),
        ("SoftKvm.Vmm.Profiling", MachineSpecific, "the profiler is machine-neutral"),
        ("SoftKvm.Vmm.Errors", MachineSpecific, "errors are machine-neutral"),
        ("SoftKvm.Vmm.Arm64", ["SoftKvm.Vmm.X86", "SoftKvm.X86"], "one machine does not use another's"),
        ("SoftKvm.Vmm.X86", ["SoftKvm.Vmm.Arm64", "SoftKvm.Arm64"], "one machine does not use another's"),
        ("SoftKvm.Devices", ["SoftKvm.Arm64", "SoftKvm.X86"], "devices know their registers and interrupt lines, not an architecture"),
    ];

    private static string[] MachineSpecific => ["SoftKvm.Vmm.Arm64", "SoftKvm.Vmm.X86", "SoftKvm.Arm64", "SoftKvm.X86"];
}

using SoftKvm.Vmm.Machines;

namespace SoftKvm.Vmm.Arm64;

/// <summary>The options of the arm64 <c>virt</c> machine (<c>softkvm run --gic</c>).</summary>
public sealed record Arm64VirtOptions : IMachineOptions
{
    /// <summary>The GIC model.</summary>
    public GicVersion Gic { get; init; } = GicVersion.V3;
}

namespace SoftKvm.Vmm.Arm64;

/// <summary>The GIC architecture version of the arm64 <c>virt</c> machine.</summary>
public enum GicVersion
{
    /// <summary>GICv2 (IHI 0048): distributor and memory-mapped CPU interface, at most 8 CPUs.</summary>
    V2 = 2,

    /// <summary>GICv3 (IHI 0069): distributor and one redistributor per CPU, at most 512 CPUs here.</summary>
    V3 = 3,
}

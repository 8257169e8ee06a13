namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The GIC architecture a <see cref="Vgic"/> emulates (KVM's <c>KVM_DEV_TYPE_ARM_VGIC_V2</c> /
/// <c>KVM_DEV_TYPE_ARM_VGIC_V3</c>). Any other value is refused when the VGIC is created.
/// </summary>
public enum GicModel
{
    /// <summary>GICv2 (IHI 0048): memory-mapped CPU interface, at most 8 vCPUs.</summary>
    V2 = 2,

    /// <summary>GICv3 (IHI 0069): redistributors and ICC_* system registers, at most 512 vCPUs.</summary>
    V3 = 3,
}

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// A GICv3 redistributor region (<c>KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION</c>): <paramref name="Count"/>
/// redistributors of 0x20000 bytes each from <paramref name="Base"/>. A legacy region
/// (<c>KVM_VGIC_V3_ADDR_TYPE_REDIST</c>) has <paramref name="IsLegacy"/> set and holds every vCPU.
/// </summary>
/// <param name="Index">The region index (consecutive from 0).</param>
/// <param name="Base">The guest-physical base, 64 KiB aligned.</param>
/// <param name="Count">How many redistributors fit.</param>
/// <param name="IsLegacy">Whether the region came from the legacy single-base attribute.</param>
public sealed record RedistributorRegion(int Index, ulong Base, int Count, bool IsLegacy)
{
    /// <summary>The size of the region in bytes.</summary>
    public ulong Size => (ulong)Count * Vgic.RedistributorSize;

    /// <summary>The guest-physical address after the region's last byte.</summary>
    public ulong End => Base + Size;
}

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The base-address kinds of <c>KVM_DEV_ARM_VGIC_GRP_ADDR</c>; the values are KVM's
/// (<c>KVM_VGIC_V2_ADDR_TYPE_DIST</c> ... <c>KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION</c>).
/// </summary>
public enum VgicAddressType
{
    /// <summary>GICv2 distributor, 4 KiB.</summary>
    V2Distributor = 0,

    /// <summary>GICv2 CPU interface, 8 KiB.</summary>
    V2CpuInterface = 1,

    /// <summary>GICv3 distributor, 64 KiB.</summary>
    V3Distributor = 2,

    /// <summary>GICv3 legacy redistributor base: one region sized for every vCPU.</summary>
    V3Redistributor = 3,

    /// <summary>The GICv3 ITS's frame (KVM_VGIC_ITS_ADDR_TYPE): an attribute of the ITS device, <see cref="VgicIts.SetBaseAddress"/>.</summary>
    Its = 4,

    /// <summary>GICv3 redistributor region: count [63:52], base [51:16], flags [15:12] (0), index [11:0].</summary>
    V3RedistributorRegion = 5,
}

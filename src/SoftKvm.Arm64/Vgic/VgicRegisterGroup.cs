namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The register groups the VMM can access directly (KVM's <c>KVM_DEV_ARM_VGIC_GRP_DIST_REGS</c> and
/// <c>KVM_DEV_ARM_VGIC_GRP_REDIST_REGS</c>), for save, restore and inspection.
/// </summary>
public enum VgicRegisterGroup
{
    /// <summary>The distributor frame (GICv2 INTIDs 0..31 as the vCPU named sees them).</summary>
    Distributor,

    /// <summary>A GICv3 redistributor: RD_base at 0x0, SGI_base at 0x10000, one table.</summary>
    Redistributor,
}

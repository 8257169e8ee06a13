namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The MPIDR_EL1 value KVM gives a vCPU (<c>reset_mpidr</c>): Aff0 = id[3:0], Aff1 = id[11:4],
/// Aff2 = id[19:12], bit 31 RES1. Sixteen vCPUs per Aff0 cluster fit GICv3's 16-bit SGI target lists.
/// </summary>
public static class Mpidr
{
    /// <summary>The MPIDR_EL1 of vCPU <paramref name="vcpuId"/>.</summary>
    public static ulong FromVcpuId(int vcpuId) =>
        (1UL << 31) | (ulong)(vcpuId & 0xf) | ((ulong)((vcpuId >> 4) & 0xff) << 8) | ((ulong)((vcpuId >> 12) & 0xff) << 16);

    /// <summary>The affinity fields only (Aff3.Aff2.Aff1.Aff0 as in GICD_IROUTER, without bit 31).</summary>
    public static ulong Affinity(ulong mpidr) => mpidr & 0xff_00ff_ffffUL;
}

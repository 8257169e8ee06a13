namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// KVM's MPIDR_EL1 for a vCPU id (Aff0 = id[3:0], Aff1 = id[11:4], Aff2 = id[19:12], bit 31 RES1), used for
/// the device tree when no backend is wired; it matches SoftKvm.Arm64's Mpidr.FromVcpuId, which the
/// backend's <see cref="IArm64VirtBackend.GetMpidr"/> returns.
/// </summary>
internal static class KvmMpidr
{
    public static ulong FromVcpuId(int vcpuId) =>
        (1UL << 31) | (ulong)(vcpuId & 0xf) | ((ulong)((vcpuId >> 4) & 0xff) << 8) | ((ulong)((vcpuId >> 12) & 0xff) << 16);
}

using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// VMM access to device registers by offset (docs/kvm-semantics.md#gic-register-access:
/// <c>KVM_DEV_ARM_VGIC_GRP_REDIST_REGS</c> at 0x10100 reaches GICR_ISENABLER0; offsets outside the table are
/// -ENXIO). Accesses are 32-bit and go through the same register table as the guest's, banked for the vCPU
/// named.
/// </summary>
public sealed partial class Vgic
{
    /// <summary>Whether <paramref name="offset"/> names a register of <paramref name="group"/> (KVM's <c>has_attr</c>).</summary>
    public bool HasDeviceRegister(VgicRegisterGroup group, ulong offset) =>
        MapOf(group) is { } map && map.TryFind(offset, out _);

    /// <summary>Reads the 32-bit register at <paramref name="offset"/> of <paramref name="group"/> for vCPU <paramref name="vcpuId"/>.</summary>
    /// <exception cref="VgicException">not initialised, no such register, or no such vCPU.</exception>
    public uint ReadDeviceRegister(VgicRegisterGroup group, int vcpuId, ulong offset)
    {
        var (device, vcpu) = UserAccessTarget(group, vcpuId, offset);
        Span<byte> data = stackalloc byte[4];
        device.Read(vcpu, offset, data);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data);
    }

    /// <summary>Writes the 32-bit register at <paramref name="offset"/> of <paramref name="group"/> for vCPU <paramref name="vcpuId"/>.</summary>
    /// <exception cref="VgicException">not initialised, no such register, or no such vCPU.</exception>
    public void WriteDeviceRegister(VgicRegisterGroup group, int vcpuId, ulong offset, uint value)
    {
        var (device, vcpu) = UserAccessTarget(group, vcpuId, offset);
        Span<byte> data = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        device.Write(vcpu, offset, data);
    }

    private RegisterMap? MapOf(VgicRegisterGroup group) => group switch
    {
        VgicRegisterGroup.Distributor => Model == GicModel.V2 ? GicRegisterMaps.V2Distributor : GicRegisterMaps.V3Distributor,
        VgicRegisterGroup.Redistributor when Model == GicModel.V3 => GicRegisterMaps.V3Redistributor,
        _ => null,
    };

    private (IIoDevice Device, Core.Vcpu? Vcpu) UserAccessTarget(VgicRegisterGroup group, int vcpuId, ulong offset)
    {
        if (!_initialized)
        {
            throw new VgicException("VGIC register access before init");
        }

        if ((uint)vcpuId >= (uint)VcpuCount)
        {
            throw new VgicException($"VGIC register access for vCPU {vcpuId}: no such vCPU");
        }

        if (!HasDeviceRegister(group, offset))
        {
            throw new VgicException($"GIC{ModelName(Model)} {group} has no register at offset 0x{offset:x}");
        }

        return group == VgicRegisterGroup.Distributor
            ? (_distributor!, _vcpus![vcpuId])
            : (_redistributors[vcpuId], _vcpus![vcpuId]);
    }
}

using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The distributor frame (GICD_*) as an IO device: 4 KiB for GICv2, 64 KiB for GICv3. GICv2 banks
/// INTIDs 0..31 per accessing vCPU (the VMM, with no vCPU, sees vCPU 0's bank).
/// </summary>
internal sealed class Distributor(Vgic vgic) : IIoValueDevice, IGicRegisterFile
{
    private readonly RegisterMap _map = vgic.Model == GicModel.V2 ? GicRegisterMaps.V2Distributor : GicRegisterMaps.V3Distributor;

    public Vgic Vgic => vgic;

    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => GicMmio.Store(ReadValue(vcpu, offset, data.Length), data);

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        using (vgic.Lock.Hold())
        {
            GicMmio.Write(this, _map, offset, data, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public ulong ReadValue(Vcpu? vcpu, ulong offset, int size)
    {
        int index = GicMmio.Locate(_map, offset, size, out uint rel);
        if (GicMmio.ReadsFixedValue(_map, index))
        {
            return GicMmio.ValueAt(this, _map, index, rel, size, Accessor(vcpu)); // nothing to lock, nothing to flush
        }

        using (vgic.Lock.Hold())
        {
            ulong value = GicMmio.ValueAt(this, _map, index, rel, size, Accessor(vcpu));
            vgic.FlushLocked();
            return value;
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public void WriteValue(Vcpu? vcpu, ulong offset, int size, ulong value)
    {
        using (vgic.Lock.Hold())
        {
            GicMmio.WriteValue(this, _map, offset, size, value, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    public ulong ReadRegister(GicReg id, int vcpu) => vgic.ReadDistributorRegister(id);

    public void WriteRegister(GicReg id, ulong value, int vcpu) => vgic.WriteDistributorRegister(id, value, vcpu);

    public VgicIrq? ResolveIrq(int intId, int vcpu) => vgic.ResolveDistributorIrq(intId, vcpu);

    private int Accessor(Vcpu? vcpu) => vcpu is not null && (uint)vcpu.Id < (uint)vgic.VcpuCount ? vcpu.Id : -1;
}

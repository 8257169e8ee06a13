using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The distributor frame (GICD_*) as an IO device: 4 KiB for GICv2, 64 KiB for GICv3. GICv2 banks
/// INTIDs 0..31 per accessing vCPU (the VMM, with no vCPU, sees vCPU 0's bank).
/// </summary>
internal sealed class Distributor(Vgic vgic) : IIoDevice, IGicRegisterFile
{
    private readonly RegisterMap _map = vgic.Model == GicModel.V2 ? GicRegisterMaps.V2Distributor : GicRegisterMaps.V3Distributor;

    public Vgic Vgic => vgic;

    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        int index = GicMmio.Locate(_map, offset, data.Length, out uint rel);
        if (GicMmio.ReadsFixedValue(_map, index))
        {
            GicMmio.ReadAt(this, _map, index, rel, data, Accessor(vcpu)); // nothing to lock, nothing to flush
            return;
        }

        lock (vgic.Lock)
        {
            GicMmio.ReadAt(this, _map, index, rel, data, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        lock (vgic.Lock)
        {
            GicMmio.Write(this, _map, offset, data, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    public ulong ReadRegister(GicReg id, int vcpu) => vgic.ReadDistributorRegister(id);

    public void WriteRegister(GicReg id, ulong value, int vcpu) => vgic.WriteDistributorRegister(id, value, vcpu);

    public VgicIrq? ResolveIrq(int intId, int vcpu) => vgic.ResolveDistributorIrq(intId, vcpu);

    private int Accessor(Vcpu? vcpu) => vcpu is not null && (uint)vcpu.Id < (uint)vgic.VcpuCount ? vcpu.Id : -1;
}

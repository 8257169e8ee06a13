using SoftKvm.Arm64.Kvm;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// One GICv3 redistributor as ONE IO device of 0x20000 bytes covering RD_base and SGI_base
/// (docs/kvm-semantics.md#gicv3-redistributor-as-one-device, "Use a single IO device per redistributor"), so
/// that 512 vCPUs need 512 bus ranges, not 1024. Any vCPU may access any redistributor; the SGI_base arrays
/// always address this vCPU's private IRQs.
/// </summary>
internal sealed class Redistributor : IIoValueDevice, IGicRegisterFile
{
    private const ulong WakerProcessorSleep = 1 << 1;
    private const ulong WakerChildrenAsleep = 1 << 2;

    private readonly Vgic _vgic;
    private ulong _waker;

    public Redistributor(Vgic vgic, int vcpu, ulong baseAddress, bool last)
    {
        _vgic = vgic;
        VcpuIndex = vcpu;
        Base = baseAddress;
        Last = last;
    }

    public Vgic Vgic => _vgic;

    /// <summary>The vCPU this redistributor serves.</summary>
    public int VcpuIndex { get; }

    /// <summary>The guest-physical base (RD_base).</summary>
    public ulong Base { get; }

    /// <summary>GICR_TYPER.Last.</summary>
    public bool Last { get; }

    /// <summary>
    /// GICR_TYPER: Affinity_Value [63:32] = the vCPU's Aff2.Aff1.Aff0 (Aff3 [63:56] is 0),
    /// Processor_Number [23:8] = vCPU id (what an ITS's RDbase names, GITS_TYPER.PTA being 0), Last [4],
    /// PLPIS [0] when the VGIC has an ITS; VLPIS, DirectLPI, DPGS 0.
    /// </summary>
    public ulong Typer =>
        (Mpidr.Affinity(Mpidr.FromVcpuId(VcpuIndex)) & 0xff_ffffUL) << 32 |
        (ulong)(VcpuIndex & 0xffff) << 8 |
        (Last ? 1UL << 4 : 0) |
        (_vgic.HasIts ? 1UL : 0);

    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => GicMmio.Store(ReadValue(vcpu, offset, data.Length), data);

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        using (_vgic.Lock.Hold())
        {
            GicMmio.Write(this, GicRegisterMaps.V3Redistributor, offset, data, VcpuIndex);
            _vgic.FlushLocked();
        }
    }

    /// <inheritdoc />
    public ulong ReadValue(Vcpu? vcpu, ulong offset, int size)
    {
        var map = GicRegisterMaps.V3Redistributor;
        using (_vgic.Lock.Hold())
        {
            ulong value = GicMmio.ValueAt(this, map, GicMmio.Locate(map, offset, size, out uint rel), rel, size, VcpuIndex);
            _vgic.FlushLocked();
            return value;
        }
    }

    /// <inheritdoc />
    public void WriteValue(Vcpu? vcpu, ulong offset, int size, ulong value)
    {
        using (_vgic.Lock.Hold())
        {
            GicMmio.WriteValue(this, GicRegisterMaps.V3Redistributor, offset, size, value, VcpuIndex);
            _vgic.FlushLocked();
        }
    }

    public ulong ReadRegister(GicReg id, int vcpu) => id switch
    {
        GicReg.RdCtlr => _vgic.ReadRedistributorControl(VcpuIndex),
        GicReg.Iidr => Vgic.Iidr,
        GicReg.RdTyper => Typer,
        GicReg.RdWaker => _waker,
        GicReg.RdPropBaser => _vgic.ReadPropBaser(),
        GicReg.RdPendBaser => _vgic.ReadPendBaser(VcpuIndex),
        GicReg.Pidr2 => 0x3b,
        _ => 0,
    };

    public void WriteRegister(GicReg id, ulong value, int vcpu)
    {
        switch (id)
        {
            case GicReg.RdWaker:
                // ProcessorSleep is kept; ChildrenAsleep follows it at once (no power management to wait for).
                _waker = (value & WakerProcessorSleep) != 0 ? WakerProcessorSleep | WakerChildrenAsleep : 0;
                break;
            case GicReg.RdCtlr:
                _vgic.WriteRedistributorControl(VcpuIndex, value);
                break;
            case GicReg.RdPropBaser:
                _vgic.WritePropBaser(VcpuIndex, value);
                break;
            case GicReg.RdPendBaser:
                _vgic.WritePendBaser(VcpuIndex, value);
                break;
            case GicReg.RdInvLpiR:
                _vgic.InvalidateLpiRegister(VcpuIndex, value);
                break;
            case GicReg.RdInvAllR:
                _vgic.InvalidateAllRegister(VcpuIndex);
                break;
        }
    }

    /// <summary>The RD_base state for a snapshot.</summary>
    public VgicRedistributorState SaveState() =>
        new((uint)_waker, _vgic.ReadPropBaser(), _vgic.ReadPendBaser(VcpuIndex), _vgic.LpisEnabled(VcpuIndex));

    /// <summary>Restores the RD_base state through the same rules as guest writes (the base registers before EnableLPIs).</summary>
    public void RestoreState(VgicRedistributorState state)
    {
        WriteRegister(GicReg.RdWaker, state.Waker, VcpuIndex);
        WriteRegister(GicReg.RdCtlr, 0, VcpuIndex);
        WriteRegister(GicReg.RdPropBaser, state.PropBaser, VcpuIndex);
        WriteRegister(GicReg.RdPendBaser, state.PendBaser, VcpuIndex);
        WriteRegister(GicReg.RdCtlr, state.LpisEnabled ? 1UL : 0, VcpuIndex);
    }

    public VgicIrq? ResolveIrq(int intId, int vcpu) => intId < Vgic.NrPrivateIrqs ? _vgic.PrivateIrq(VcpuIndex, intId) : null;
}

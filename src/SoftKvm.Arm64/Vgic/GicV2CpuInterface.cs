using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The GICv2 CPU interface (GICC_*, IHI 0048B §4.4) as an 8 KiB IO device, banked per accessing vCPU
/// (an access by the VMM, with no vCPU, sees vCPU 0). No Security Extensions: GICC_CTLR has
/// EnableGrp0 [0], EnableGrp1 [1], AckCtl [2], FIQEn [3], CBPR [4] and EOImodeNS [9].
/// </summary>
internal sealed class GicV2CpuInterface(Vgic vgic) : IIoDevice, IGicRegisterFile
{
    private const uint CtlrEnableGrp0 = 1 << 0;
    private const uint CtlrEnableGrp1 = 1 << 1;
    private const uint CtlrAckCtl = 1 << 2;
    private const uint CtlrFiqEn = 1 << 3;
    private const uint CtlrCbpr = 1 << 4;
    private const uint CtlrEoiMode = 1 << 9;

    /// <summary>GICC_IIDR: ProductID 0x4B [31:20], architecture version 2 [19:16], Implementer 0x43B (Arm).</summary>
    private const uint CpuIidr = (0x4bu << 20) | (2u << 16) | 0x43bu;

    public Vgic Vgic => vgic;

    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        using (vgic.Lock.Hold())
        {
            GicMmio.Read(this, GicRegisterMaps.V2CpuInterface, offset, data, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        using (vgic.Lock.Hold())
        {
            GicMmio.Write(this, GicRegisterMaps.V2CpuInterface, offset, data, Accessor(vcpu));
            vgic.FlushLocked();
        }
    }

    public ulong ReadRegister(GicReg id, int vcpu)
    {
        var cpu = vgic.Cpu(vcpu);
        return id switch
        {
            GicReg.CpuCtlr => (cpu.Group0Enabled ? CtlrEnableGrp0 : 0) | (cpu.Group1Enabled ? CtlrEnableGrp1 : 0) |
                              (cpu.AckCtl ? CtlrAckCtl : 0) | (cpu.FiqEnable ? CtlrFiqEn : 0) |
                              (cpu.CommonBpr ? CtlrCbpr : 0) | (cpu.SplitEoi ? CtlrEoiMode : 0),
            GicReg.CpuPmr => cpu.PriorityMask,
            GicReg.CpuBpr => (ulong)cpu.Bpr0,
            GicReg.CpuAbpr => (ulong)cpu.Bpr1,
            GicReg.CpuIar => vgic.AcknowledgeLocked(vcpu, 3),
            GicReg.CpuRpr => (ulong)cpu.RunningPriority,
            GicReg.CpuHppir => vgic.HighestPendingIdLocked(vcpu, 3),
            GicReg.CpuApr => cpu.ActivePriorities0,
            GicReg.CpuNsapr => cpu.ActivePriorities1,
            GicReg.CpuIidr => CpuIidr,
            _ => 0,                                  // GICC_EOIR and GICC_DIR are write-only
        };
    }

    public void WriteRegister(GicReg id, ulong value, int vcpu)
    {
        var cpu = vgic.Cpu(vcpu);
        switch (id)
        {
            case GicReg.CpuCtlr:
                cpu.Group0Enabled = (value & CtlrEnableGrp0) != 0;
                cpu.Group1Enabled = (value & CtlrEnableGrp1) != 0;
                cpu.AckCtl = (value & CtlrAckCtl) != 0;
                cpu.FiqEnable = (value & CtlrFiqEn) != 0;
                cpu.CommonBpr = (value & CtlrCbpr) != 0;
                cpu.SplitEoi = (value & CtlrEoiMode) != 0;
                break;
            case GicReg.CpuPmr:
                cpu.PriorityMask = (byte)(value & Vgic.PriorityMaskBits);
                break;
            case GicReg.CpuBpr:
                cpu.Bpr0 = Math.Max(CpuInterfaceState.MinBpr0, (int)(value & 7));
                break;
            case GicReg.CpuAbpr:
                cpu.Bpr1 = Math.Max(CpuInterfaceState.MinBpr1, (int)(value & 7));
                break;
            case GicReg.CpuEoir:
                vgic.EndOfInterruptLocked(vcpu, (uint)value);
                break;
            case GicReg.CpuDir:
                vgic.DeactivateInterruptLocked(vcpu, (uint)value);
                break;
            case GicReg.CpuApr:
                cpu.ActivePriorities0 = (uint)value;
                break;
            case GicReg.CpuNsapr:
                cpu.ActivePriorities1 = (uint)value;
                break;
            default:
                return;                                  // GICC_IAR, RPR, HPPIR, IIDR are read-only
        }

        vgic.MarkDirty(vcpu);
    }

    public VgicIrq? ResolveIrq(int intId, int vcpu) => null;

    private int Accessor(Vcpu? vcpu) => vcpu is not null && (uint)vcpu.Id < (uint)vgic.VcpuCount ? vcpu.Id : 0;
}

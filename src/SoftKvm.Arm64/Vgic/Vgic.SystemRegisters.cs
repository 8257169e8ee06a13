using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu;

namespace SoftKvm.Arm64.Vgic;

/// <summary>
/// The GICv3 CPU interface as system registers (ICC_*_EL1, IHI 0069 §12.2). A GICv2 VGIC claims no
/// system register (there is no system register interface: the CPU model makes ICC_* accesses
/// UNDEFINED and reports ID_AA64PFR0_EL1.GIC = 0). Write-only registers read through MRS, and
/// read-only ones written through MSR, are not claimed either (UNDEFINED, as the architecture says).
/// The accessing vCPU is not notified of a change of its own outputs: it runs, and reads them after the
/// access (<see cref="Kvm.IArm64InterruptController"/>), so an acknowledge or EOI does not stop it.
/// </summary>
public sealed partial class Vgic
{
    private const ulong SreValue = 0x7;                       // SRE, DFB, DIB: RAO/WI
    private const ulong CtlrCbpr = 1 << 0;
    private const ulong CtlrEoiMode = 1 << 1;
    private const ulong CtlrReadOnly = (PriorityBits - 1) << 8; // PRIbits; IDbits 0 (16 bits), SEIS 0, A3V 0

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool TryReadSystemRegister(int vcpuId, SysRegKey register, out ulong value)
    {
        value = 0;
        if (Model != GicModel.V3 || !IsIccRegister(register) || (uint)vcpuId >= (uint)VcpuCount)
        {
            return false;
        }

        lock (_lock)
        {
            var cpu = _cpu[vcpuId];
            bool handled = true;
            switch (register.Value & 0x7ff)
            {
                case var r when r == Low(IccRegisters.Pmr): value = cpu.PriorityMask; break;
                case var r when r == Low(IccRegisters.Iar0): value = AcknowledgeLocked(vcpuId, 1); break;
                case var r when r == Low(IccRegisters.Iar1): value = AcknowledgeLocked(vcpuId, 2); break;
                case var r when r == Low(IccRegisters.Hppir0): value = HighestPendingIdLocked(vcpuId, 1); break;
                case var r when r == Low(IccRegisters.Hppir1): value = HighestPendingIdLocked(vcpuId, 2); break;
                case var r when r == Low(IccRegisters.Bpr0): value = (ulong)cpu.Bpr0; break;
                case var r when r == Low(IccRegisters.Bpr1): value = (ulong)(cpu.CommonBpr ? Math.Min(cpu.Bpr0 + 1, 7) : cpu.Bpr1); break;
                case var r when r == Low(IccRegisters.Ap0r0): value = cpu.ActivePriorities0; break;
                case var r when r == Low(IccRegisters.Ap1r0): value = cpu.ActivePriorities1; break;
                case var r when r == Low(IccRegisters.Rpr): value = (ulong)cpu.RunningPriority; break;
                case var r when r == Low(IccRegisters.Ctlr):
                    value = CtlrReadOnly | (cpu.CommonBpr ? CtlrCbpr : 0) | (cpu.SplitEoi ? CtlrEoiMode : 0);
                    break;
                case var r when r == Low(IccRegisters.Sre): value = SreValue; break;
                case var r when r == Low(IccRegisters.Igrpen0): value = cpu.Group0Enabled ? 1UL : 0; break;
                case var r when r == Low(IccRegisters.Igrpen1): value = cpu.Group1Enabled ? 1UL : 0; break;
                default: handled = false; break;
            }

            FlushLocked(vcpuId);
            return handled;
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool TryWriteSystemRegister(int vcpuId, SysRegKey register, ulong value)
    {
        if (Model != GicModel.V3 || !IsIccRegister(register) || (uint)vcpuId >= (uint)VcpuCount)
        {
            return false;
        }

        lock (_lock)
        {
            var cpu = _cpu[vcpuId];
            bool handled = true;
            switch (register.Value & 0x7ff)
            {
                case var r when r == Low(IccRegisters.Pmr): cpu.PriorityMask = (byte)(value & PriorityMaskBits); break;
                case var r when r == Low(IccRegisters.Eoir0): EndOfInterruptLocked(vcpuId, (uint)value); break;
                case var r when r == Low(IccRegisters.Eoir1): EndOfInterruptLocked(vcpuId, (uint)value); break;
                case var r when r == Low(IccRegisters.Dir): DeactivateInterruptLocked(vcpuId, (uint)value); break;
                case var r when r == Low(IccRegisters.Bpr0): cpu.Bpr0 = Math.Max(CpuInterfaceState.MinBpr0, (int)(value & 7)); break;
                case var r when r == Low(IccRegisters.Bpr1):
                    if (!cpu.CommonBpr)
                    {
                        cpu.Bpr1 = Math.Max(CpuInterfaceState.MinBpr1, (int)(value & 7));
                    }

                    break;
                case var r when r == Low(IccRegisters.Ap0r0): cpu.ActivePriorities0 = (uint)value; break;
                case var r when r == Low(IccRegisters.Ap1r0): cpu.ActivePriorities1 = (uint)value; break;
                case var r when r == Low(IccRegisters.Sgi1r): SendSgiV3Locked(vcpuId, value, group0Only: false); break;
                case var r when r == Low(IccRegisters.Asgi1r): SendSgiV3Locked(vcpuId, value, group0Only: false); break;
                case var r when r == Low(IccRegisters.Sgi0r): SendSgiV3Locked(vcpuId, value, group0Only: true); break;
                case var r when r == Low(IccRegisters.Ctlr):
                    cpu.CommonBpr = (value & CtlrCbpr) != 0;
                    cpu.SplitEoi = (value & CtlrEoiMode) != 0;
                    break;
                case var r when r == Low(IccRegisters.Sre): break;
                case var r when r == Low(IccRegisters.Igrpen0): cpu.Group0Enabled = (value & 1) != 0; break;
                case var r when r == Low(IccRegisters.Igrpen1): cpu.Group1Enabled = (value & 1) != 0; break;
                default: handled = false; break;
            }

            if (handled)
            {
                MarkDirty(vcpuId);
                FlushLocked(vcpuId);
            }

            return handled;
        }
    }

    // op0 = 3, op1 = 0, CRn = 4 (PMR) or 12.
    private static bool IsIccRegister(SysRegKey r) =>
        r.Op0 == 3 && r.Op1 == 0 && ((r.CRn == 4 && r.CRm == 6 && r.Op2 == 0) || (r.CRn == 12 && r.CRm >= 8));

    private static uint Low(SysRegKey r) => r.Value & 0x7ff;
}

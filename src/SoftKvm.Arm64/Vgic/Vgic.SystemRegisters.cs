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

    // The registers' CRn:CRm:op2 (the low 11 bits of IccRegisters' keys; op0 = 3, op1 = 0 checked by IsIccRegister), as
    // constants: the accesses' switch is a jump table, not a chain of compares with static fields.
    private const uint LowPmr = (4 << 7) | (6 << 3) | 0;
    private const uint LowIar0 = (12 << 7) | (8 << 3) | 0;
    private const uint LowEoir0 = (12 << 7) | (8 << 3) | 1;
    private const uint LowHppir0 = (12 << 7) | (8 << 3) | 2;
    private const uint LowBpr0 = (12 << 7) | (8 << 3) | 3;
    private const uint LowAp0r0 = (12 << 7) | (8 << 3) | 4;
    private const uint LowAp1r0 = (12 << 7) | (9 << 3) | 0;
    private const uint LowDir = (12 << 7) | (11 << 3) | 1;
    private const uint LowRpr = (12 << 7) | (11 << 3) | 3;
    private const uint LowSgi1r = (12 << 7) | (11 << 3) | 5;
    private const uint LowAsgi1r = (12 << 7) | (11 << 3) | 6;
    private const uint LowSgi0r = (12 << 7) | (11 << 3) | 7;
    private const uint LowIar1 = (12 << 7) | (12 << 3) | 0;
    private const uint LowEoir1 = (12 << 7) | (12 << 3) | 1;
    private const uint LowHppir1 = (12 << 7) | (12 << 3) | 2;
    private const uint LowBpr1 = (12 << 7) | (12 << 3) | 3;
    private const uint LowCtlr = (12 << 7) | (12 << 3) | 4;
    private const uint LowSre = (12 << 7) | (12 << 3) | 5;
    private const uint LowIgrpen0 = (12 << 7) | (12 << 3) | 6;
    private const uint LowIgrpen1 = (12 << 7) | (12 << 3) | 7;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    public bool TryReadSystemRegister(int vcpuId, SysRegKey register, out ulong value)
    {
        value = 0;
        if (Model != GicModel.V3 || !IsIccRegister(register) || (uint)vcpuId >= (uint)VcpuCount)
        {
            return false;
        }

        using (_lock.Hold())
        {
            var cpu = _cpu[vcpuId];
            bool handled = true;
            switch (register.Value & 0x7ff)
            {
                case LowPmr: value = cpu.PriorityMask; break;
                case LowIar0: value = AcknowledgeLocked(vcpuId, 1); break;
                case LowIar1: value = AcknowledgeLocked(vcpuId, 2); break;
                case LowHppir0: value = HighestPendingIdLocked(vcpuId, 1); break;
                case LowHppir1: value = HighestPendingIdLocked(vcpuId, 2); break;
                case LowBpr0: value = (ulong)cpu.Bpr0; break;
                case LowBpr1: value = (ulong)(cpu.CommonBpr ? Math.Min(cpu.Bpr0 + 1, 7) : cpu.Bpr1); break;
                case LowAp0r0: value = cpu.ActivePriorities0; break;
                case LowAp1r0: value = cpu.ActivePriorities1; break;
                case LowRpr: value = (ulong)cpu.RunningPriority; break;
                case LowCtlr:
                    value = CtlrReadOnly | (cpu.CommonBpr ? CtlrCbpr : 0) | (cpu.SplitEoi ? CtlrEoiMode : 0);
                    break;
                case LowSre: value = SreValue; break;
                case LowIgrpen0: value = cpu.Group0Enabled ? 1UL : 0; break;
                case LowIgrpen1: value = cpu.Group1Enabled ? 1UL : 0; break;
                default: handled = false; break;
            }

            FlushLocked(vcpuId);
            if ((register.Value & 0x7ff) == LowIar1 && value < NrPrivateIrqs)
            {
                ArmNativeEoi(vcpuId, (uint)value);
            }

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

        using (_lock.Hold())
        {
            var cpu = _cpu[vcpuId];
            bool handled = true;
            switch (register.Value & 0x7ff)
            {
                case LowPmr: cpu.PriorityMask = (byte)(value & PriorityMaskBits); break;
                case LowEoir0: EndOfInterruptLocked(vcpuId, (uint)value); break;
                case LowEoir1: EndOfInterruptLocked(vcpuId, (uint)value); break;
                case LowDir: DeactivateInterruptLocked(vcpuId, (uint)value); break;
                case LowBpr0: cpu.Bpr0 = Math.Max(CpuInterfaceState.MinBpr0, (int)(value & 7)); break;
                case LowBpr1:
                    if (!cpu.CommonBpr)
                    {
                        cpu.Bpr1 = Math.Max(CpuInterfaceState.MinBpr1, (int)(value & 7));
                    }

                    break;
                case LowAp0r0: cpu.ActivePriorities0 = (uint)value; break;
                case LowAp1r0: cpu.ActivePriorities1 = (uint)value; break;
                case LowSgi1r: SendSgiV3Locked(vcpuId, value, group0Only: false); break;
                case LowAsgi1r: SendSgiV3Locked(vcpuId, value, group0Only: false); break;
                case LowSgi0r: SendSgiV3Locked(vcpuId, value, group0Only: true); break;
                case LowCtlr:
                    cpu.CommonBpr = (value & CtlrCbpr) != 0;
                    cpu.SplitEoi = (value & CtlrEoiMode) != 0;
                    break;
                case LowSre: break;
                case LowIgrpen0: cpu.Group0Enabled = (value & 1) != 0; break;
                case LowIgrpen1: cpu.Group1Enabled = (value & 1) != 0; break;
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsIccRegister(SysRegKey r) =>
        r.Op0 == 3 && r.Op1 == 0 && ((r.CRn == 4 && r.CRm == 6 && r.Op2 == 0) || (r.CRn == 12 && r.CRm >= 8));

}

using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// <c>KVM_SET_GUEST_DEBUG</c> on arm64 (docs/kvm-semantics.md#arm64-guest-debug): the debugger owns single-step,
/// BRK and/or the hardware breakpoints and watchpoints, and each of its events is a <c>Debug</c> exit with the
/// syndrome (<see cref="DebugExit.Esr"/>, <see cref="DebugExit.Far"/>); what it does not claim stays the guest's.
/// </summary>
public sealed partial class Arm64Vcpu
{
    private Arm64GuestDebugFlags _debugFlags;

    // The step in flight: where it started. A step is complete when the vCPU retired an instruction (here or
    // by the hypervisor completing it, MMIO after a userspace exit included) or took an exception.
    private bool _stepArmed;
    private ulong _stepPc;
    private long _stepRetired;

    /// <summary>The breakpoints the vCPU offers a debugger.</summary>
    public static int HardwareBreakpoints => Arm64Cpu.HardwareBreakpoints;

    /// <summary>The watchpoints the vCPU offers a debugger.</summary>
    public static int HardwareWatchpoints => Arm64Cpu.HardwareWatchpoints;

    private bool GuestSingleStep => (_debugFlags & (Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep)) == (Arm64GuestDebugFlags.Enable | Arm64GuestDebugFlags.SingleStep);

    /// <summary>
    /// <c>KVM_SET_GUEST_DEBUG</c>: <paramref name="flags"/> without <see cref="Arm64GuestDebugFlags.Enable"/> gives
    /// everything back to the guest; <paramref name="registers"/> are the debugger's breakpoints and watchpoints,
    /// used with <see cref="Arm64GuestDebugFlags.UseHardware"/>.
    /// </summary>
    /// <exception cref="VcpuException">running, or more breakpoints or watchpoints than the vCPU has.</exception>
    public void SetGuestDebug(Arm64GuestDebugFlags flags, Arm64GuestDebugRegisters? registers = null)
    {
        ThrowIfRunning();
        bool on = (flags & Arm64GuestDebugFlags.Enable) != 0;
        bool hardware = on && (flags & Arm64GuestDebugFlags.UseHardware) != 0;
        var bps = registers?.Breakpoints ?? [];
        var wps = registers?.Watchpoints ?? [];
        if (hardware && (bps.Length > HardwareBreakpoints || wps.Length > HardwareWatchpoints))
        {
            throw new VcpuException($"vCPU {Id}: the debugger asked for {bps.Length} breakpoints and {wps.Length} watchpoints; the vCPU has {HardwareBreakpoints} and {HardwareWatchpoints}", KvmErrno.InvalidArgument);
        }

        _debugFlags = on ? flags : Arm64GuestDebugFlags.None;
        _stepArmed = false;
        _cpu.SetHostDebug(
            GuestSingleStep,
            on && (flags & Arm64GuestDebugFlags.UseSoftwareBreakpoints) != 0,
            hardware,
            hardware ? bps : [],
            hardware ? wps : [],
            on && (flags & Arm64GuestDebugFlags.BlockInterrupts) != 0);
    }

    /// <summary><c>KVM_TRANSLATE</c>: the guest-physical address of <paramref name="virtualAddress"/> through the guest's MMU at its current EL; false when unmapped.</summary>
    /// <exception cref="VcpuException">running.</exception>
    public bool TranslateAddress(ulong virtualAddress, out ulong physicalAddress)
    {
        ThrowIfRunning();
        return _cpu.TryTranslate(virtualAddress, out physicalAddress);
    }

    /// <summary>
    /// Reads the system register with the MRS encoding (<paramref name="op0"/>, <paramref name="op1"/>, CRn, CRm,
    /// op2): KVM_GET_ONE_REG of <c>ARM64_SYS_REG(op0, op1, crn, crm, op2)</c>, for a VMM that names registers by number.
    /// </summary>
    /// <exception cref="VcpuException">running, or a register the vCPU does not implement.</exception>
    public ulong GetSystemRegister(int op0, int op1, int crn, int crm, int op2) => GetSystemRegister(SysRegKey.Of(op0, op1, crn, crm, op2));

    /// <summary>Writes the system register with the MRS encoding (KVM_SET_ONE_REG of <c>ARM64_SYS_REG</c>).</summary>
    /// <exception cref="VcpuException">running, or a register the vCPU does not implement or that is read-only.</exception>
    public void SetSystemRegister(int op0, int op1, int crn, int crm, int op2, ulong value) => SetSystemRegister(SysRegKey.Of(op0, op1, crn, crm, op2), value);

    /// <summary>At the top of the run loop while single-stepping: whether the step in flight completed (then a <c>Debug</c> exit is due).</summary>
    private bool StepCompleted()
    {
        if (!_stepArmed)
        {
            _stepArmed = true;
            _stepPc = _cpu.State.Pc;
            _stepRetired = _cpu.Retired;
            return false;
        }

        return _cpu.Retired != _stepRetired || _cpu.State.Pc != _stepPc;
    }

    /// <summary>
    /// Before the hypervisor completes an access the VMM handled: a step that starts here (single-step turned on
    /// while the vCPU stood at the load or store, as a debugger does when it stops every vCPU) ends with that
    /// completion, as KVM's skip of the instruction advances the software-step state machine (PSTATE.SS = 0,
    /// the step exception taken before the next instruction). Otherwise the step would run the completed
    /// instruction and the next one, and the debugger would see one instruction skipped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ArmStepBeforeCompletion()
    {
        if (GuestSingleStep && !_stepArmed)
        {
            StepCompleted();
        }
    }

    /// <summary>The software-step <c>Debug</c> exit: EC 0x32 (from a lower EL), ISV with EX = 0, PC at the next instruction.</summary>
    private void SingleStepExit() => DebugExit(Esr.Make(Esr.EcSoftStepLow, Esr.IssIsv | Esr.FscDebug), 0);

    /// <summary>A <c>Debug</c> exit for the event in <see cref="Arm64Cpu.Trap"/> (BRK, breakpoint, watchpoint).</summary>
    private void HostDebugExit() => DebugExit(_cpu.Trap.Esr, Esr.Class(_cpu.Trap.Esr) == Esr.EcWatchpointLow ? _cpu.Trap.Far : 0);

    private void DebugExit(ulong esr, ulong far)
    {
        _stepArmed = false;
        ref DebugExit d = ref RunState.Debug;
        d.Exception = 0;
        d.Pc = _cpu.State.Pc;
        d.Esr = esr;
        d.Far = far;
        d.Dr6 = 0;
        d.Dr7 = 0;
        RunState.ExitReason = ExitReason.Debug;
    }
}

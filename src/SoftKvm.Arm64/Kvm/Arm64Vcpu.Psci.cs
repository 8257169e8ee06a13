using System.Runtime.CompilerServices;
using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// PSCI 1.0 and SMCCC over the conduit chosen at Init (KVM's <c>kvm_psci_call</c>). CPU_ON races are
/// settled by one compare-and-swap on the target's power state: exactly one caller moves it from OFF
/// to ON_PENDING and gets SUCCESS, every other caller gets ALREADY_ON.
/// </summary>
public sealed partial class Arm64Vcpu
{
    /// <summary>Handles HVC/SMC; false to return <paramref name="result"/> from Run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    private bool HandleHypercall(bool smc, out RunResult result)
    {
        result = RunResult.Ok;
        bool conduit = smc ? _init.PsciConduit == PsciConduit.Smc : _init.PsciConduit == PsciConduit.Hvc;
        if (!conduit)
        {
            // Not the conduit the firmware interface uses: UNDEFINED, as KVM does for an unexpected SMC.
            _cpu.InjectUndefined();
            return true;
        }

        if (_cpu.HvcImmediate != 0)
        {
            SetReturn(Psci.NotSupported);
            _cpu.RetireTrappedInstruction();
            return true;
        }

        uint fid = (uint)_cpu.X(0);
        bool is32 = (fid & 0x4000_0000) == 0;
        ulong Arg(int n) => is32 ? (uint)_cpu.X(n) : _cpu.X(n);
        _cpu.RetireTrappedInstruction();
        switch (fid)
        {
            case Psci.Version:
                SetReturn((long)Psci.Version10);
                return true;
            case Psci.SmcccVersion:
                SetReturn((long)Psci.Smccc11);
                return true;
            case Psci.Features:
                SetReturn(Psci.IsImplemented((uint)_cpu.X(1)) ? Psci.Success : Psci.NotSupported);
                return true;
            case Psci.MigrateInfoType:
                SetReturn((long)Psci.MigrateNotRequired);
                return true;
            case Psci.CpuSuspend32:
            case Psci.CpuSuspend64:
                // A standby power state: wake on an interrupt, as WFI (KVM's kvm_psci_vcpu_suspend).
                if (!HasWakeupEvent())
                {
                    Block(NextTimerDeadline());
                }

                SetReturn(Psci.Success);
                return true;
            case Psci.CpuOff:
                Volatile.Write(ref _power, PowerOff);
                return true;
            case Psci.CpuOn32:
            case Psci.CpuOn64:
                SetReturn(CpuOn(Arg(1), Arg(2), Arg(3)));
                return true;
            case Psci.AffinityInfo32:
            case Psci.AffinityInfo64:
                SetReturn(AffinityInfo(Arg(1), Arg(2)));
                return true;
            case Psci.SystemOff:
            case Psci.SystemReset:
                PowerOffAll();
                ref RunState run = ref RunState;
                run.ExitReason = ExitReason.SystemEvent;
                run.SystemEvent.Type = fid == Psci.SystemOff ? SystemEventType.Shutdown : SystemEventType.Reset;
                run.SystemEvent.Data = 0;
                return false;
            default:
                SetReturn(Psci.NotSupported);
                return true;
        }
    }

    /// <summary>
    /// Whether the HVC/SMC at PC needs the run loop (it blocks, powers off or ends the run: CPU_SUSPEND,
    /// CPU_OFF, SYSTEM_OFF, SYSTEM_RESET); every other call the exit fast path completes. Reads only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // an exit path's check; NativeAOT does not inline it on its own
    private bool HypercallNeedsRunLoop(bool smc)
    {
        bool conduit = smc ? _init.PsciConduit == PsciConduit.Smc : _init.PsciConduit == PsciConduit.Hvc;
        return conduit && _cpu.HvcImmediate == 0 && (uint)_cpu.X(0) is Psci.CpuSuspend32 or Psci.CpuSuspend64
            or Psci.CpuOff or Psci.SystemOff or Psci.SystemReset;
    }

    private void SetReturn(long value) => _cpu.SetX(0, (ulong)value);

    private long CpuOn(ulong targetMpidr, ulong entry, ulong context)
    {
        var target = _vm.FindVcpuByMpidr(targetMpidr);
        if (target is null || (targetMpidr & ~0xFF_00FF_FFFFUL) != 0)
        {
            return Psci.InvalidParameters;
        }

        return target.TryPowerOn(entry, context) ? Psci.Success : Psci.AlreadyOn;
    }

    /// <summary>The CPU_ON race point: one CAS from OFF to ON_PENDING.</summary>
    private bool TryPowerOn(ulong entry, ulong context)
    {
        if (Interlocked.CompareExchange(ref _power, PowerOnPending, PowerOff) != PowerOff)
        {
            return false;
        }

        _powerOnEntry = entry;
        _powerOnContext = context;
        MakeRequest(PowerOnRequest);
        return true;
    }

    /// <summary>On the target's own thread: the reset state PSCI requires, PC = entry, X0 = context id.</summary>
    private void ApplyPowerOn()
    {
        if (Volatile.Read(ref _power) != PowerOnPending)
        {
            return;
        }

        _cpu.Reset();
        _cpu.State.Pc = _powerOnEntry;
        _cpu.State.X[0] = _powerOnContext;
        Volatile.Write(ref _power, PowerOn);
    }

    private long AffinityInfo(ulong targetAffinity, ulong lowestLevel)
    {
        if (lowestLevel > 3)
        {
            return Psci.InvalidParameters;
        }

        int shift = lowestLevel switch { 0 => 0, 1 => 8, 2 => 16, _ => 32 };
        ulong mask = 0xFF_00FF_FFFFUL & ~((1UL << shift) - 1);
        bool any = false, anyOn = false, anyPending = false;
        foreach (var v in _vm.Vcpus)
        {
            var a = (Arm64Vcpu)v;
            if ((Kvm.Mpidr.Affinity(a.Mpidr) & mask) != (targetAffinity & mask))
            {
                continue;
            }

            any = true;
            int state = Volatile.Read(ref a._power);
            anyOn |= state == PowerOn;
            anyPending |= state == PowerOnPending;
        }

        if (!any)
        {
            return Psci.InvalidParameters;
        }

        return (long)(anyOn ? Psci.AffinityOn : anyPending ? Psci.AffinityOnPending : Psci.AffinityOff);
    }

    private void PowerOffAll()
    {
        foreach (var v in _vm.Vcpus)
        {
            var a = (Arm64Vcpu)v;
            Volatile.Write(ref a._power, PowerOff);
            if (a != this)
            {
                // Stop a running vCPU at its next instruction; it then sleeps until a CPU_ON or a kick (KVM_REQ_SLEEP).
                a.MakeRequest(VcpuRequest.Event);
            }
        }
    }
}

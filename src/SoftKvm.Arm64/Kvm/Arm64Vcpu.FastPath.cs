using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Arm64.Cpu;
using SoftKvm.Core.Io;
using SoftKvm.Core.Stats;

namespace SoftKvm.Arm64.Kvm;

/// <summary>
/// The exit fast paths (the CPU model's <see cref="ICpuHost"/>): traps the hypervisor completes where they
/// happen, inside the CPU model's run call, instead of having the PE stop and the run loop handle them —
/// as KVM handles some exits next to the world switch (arm64's early exit handlers, x86's fastpath)
/// without a return to its run loop. They are the exits that need nothing but the hypervisor: an MMIO
/// access an in-kernel device takes (with a valid syndrome), a PSCI call that neither blocks nor ends the
/// run, a WFI with an interrupt pending, and the GIC's CPU-interface registers. Each is the same exit as
/// on the slow path and is counted as such (<c>exits</c> and its reason's statistic, once); what it does
/// is the slow path's own code. Everything else (an MMIO access for the VMM, an abort without syndrome, a
/// blocking WFI or PSCI call, SYSTEM_OFF) is declined with nothing done, and the PE stops with the trap.
/// </summary>
public sealed partial class Arm64Vcpu
{
    private ulong _declinedMmioIpa;
    private bool _mmioDeclined;
    private bool _eoiSlotGiven;

    /// <summary>This vCPU's last look-up on the in-kernel MMIO bus (its thread alone uses it): a device it keeps accessing,
    /// or a page the VMM serves (a gap of the bus), is found without a search.</summary>
    private IoBusCache _kernelMmio;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool ICpuHost.TryCompleteTrap(CpuExit exit)
    {
        switch (exit)
        {
            case CpuExit.Hvc:
            case CpuExit.Smc:
                if (HypercallNeedsRunLoop(exit == CpuExit.Smc))
                {
                    return false;
                }

                Stats.Increment(VcpuStat.Exits);
                if (exit == CpuExit.Hvc)
                {
                    BeginExit(Arm64Stat.HvcExitStat);
                    Stats.Increment(Arm64Stat.HvcExitStat);
                }

                HandleHypercall(exit == CpuExit.Smc, out _);
                EndExit();
                return true;
            case CpuExit.Wfi:
                if (!HasWakeupEvent())
                {
                    return false;
                }

                BeginExit(Arm64Stat.WfiExitStat);
                Stats.Increment(VcpuStat.Exits);
                Stats.Increment(Arm64Stat.WfiExitStat);
                _cpu.RetireTrappedInstruction();
                UpdateInterruptLines(); // the wake-up may be an interrupt the lines do not show yet
                EndExit();
                return true;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool ICpuHost.TryCompleteMmio(ulong ipa, uint iss, ref ulong value)
    {
        BeginExit(Arm64Stat.MmioExitKernel);
        int length = 1 << (int)((iss >> Esr.IssSasShift) & 3);
        bool handled;
        if ((iss & Esr.IssWnR) != 0)
        {
            handled = _vm.MmioBus.TryWriteValue(this, ipa, length, value, ref _kernelMmio); // a write leaves value as it is
        }
        else if (handled = _vm.MmioBus.TryReadValue(this, ipa, length, ref _kernelMmio, out ulong read))
        {
            value = read;
        }

        if (!handled)
        {
            // The PE stops with the stage-2 abort of this access: the run loop's HandleDataAbort need not ask the bus again.
            _declinedMmioIpa = ipa;
            _mmioDeclined = true;
            EndExit();
            return false;
        }

        Stats.Increment(VcpuStat.Exits);
        Stats.Increment(Arm64Stat.MmioExitKernel);
        RunState.Mmio.SetValue(value); // the data as the slow path (and KVM's io_mem_abort) leaves it
        EndExit();
        return true;
    }

    /// <inheritdoc />
    unsafe bool ICpuHost.TryGetFixedReads(ulong ipaPage, out DeviceFixedReads reads)
    {
        // Native code counts the exit itself, where BeginExit cannot time it: not while exits are timed.
        long generation = 0;
        ulong* words = ExitsTimed ? null : _vm.MmioBus.FixedReadsAt(ipaPage, ref _kernelMmio, out generation);
        if (words == null)
        {
            reads = default;
            return false;
        }

        reads = new DeviceFixedReads(words, _vm.MmioBus.GenerationAddress, generation, Stats.AddressOf(VcpuStat.Exits),
            Stats.AddressOf(Arm64Stat.MmioExitKernel));
        return true;
    }

    /// <inheritdoc />
    void ICpuHost.CompletedNativeMmioRead(ulong value) => RunState.Mmio.SetValue(value); // as TryCompleteMmio leaves it

    /// <summary>
    /// Whether the access to <paramref name="ipa"/> that the PE stopped with was declined by <see cref="ICpuHost.TryCompleteMmio"/>
    /// (the in-kernel bus has no device there); forgets it either way, so it answers for one abort only.
    /// </summary>
    private bool TakeDeclinedMmio(ulong ipa)
    {
        bool declined = _mmioDeclined && _declinedMmioIpa == ipa;
        _mmioDeclined = false;
        return declined;
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool ICpuHost.TryReadControllerRegister(SysRegKey key, out ulong value)
    {
        var controller = _vm.InterruptController;
        if (controller is null)
        {
            value = 0;
            return false;
        }

        if (!_eoiSlotGiven)
        {
            GiveNativeEoiSlot(controller);
        }

        bool handled = controller.TryReadSystemRegister(Id, key, out value);
        UpdateInterruptLines();
        return handled;
    }

    /// <summary>
    /// Once, at this vCPU's first CPU-interface read: the in-kernel GICv3's EOI slot for native code (Vgic.NativeEoi.cs), so
    /// that the EOI of an interrupt it acknowledged with nothing else pending completes without the controller helper.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private unsafe void GiveNativeEoiSlot(IArm64InterruptController controller)
    {
        _eoiSlotGiven = true;
        ulong* slot = controller.NativeEoiSlot(Id);
        if (slot != null)
        {
            _cpu.SetNativeEoiSlot(slot);
        }
    }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: full optimization from the first call (docs/performance.md#exit-paths-and-tiering)
    bool ICpuHost.TryWriteControllerRegister(SysRegKey key, ulong value)
    {
        var controller = _vm.InterruptController;
        if (controller is null || !controller.TryWriteSystemRegister(Id, key, value))
        {
            return false;
        }

        if (IsSgiGenerationRegister(key))
        {
            // The one CPU-interface access that traps to the hypervisor under KVM (HCR_EL2.IMO): an exit.
            Stats.Increment(VcpuStat.Exits);
        }

        UpdateInterruptLines();
        return true;
    }

    /// <inheritdoc />
    void ICpuHost.SendEvent()
    {
        foreach (var v in _vm.Vcpus)
        {
            ((Arm64Vcpu)v)._cpu.SignalEvent();
        }
    }

    /// <summary>ICC_SGI1R_EL1, ICC_ASGI1R_EL1, ICC_SGI0R_EL1 (3,0,C12,C11,5..7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSgiGenerationRegister(SysRegKey key) =>
        key.Op0 == 3 && key.Op1 == 0 && key.CRn == 12 && key.CRm == 11 && key.Op2 >= 5;
}

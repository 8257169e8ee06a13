using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Kvm;

/// <summary>The one skip routine (docs/kvm-semantics.md#x86-skip-and-single-step) and single-step.</summary>
public sealed partial class X86Vcpu
{
    /// <summary>DR6 reserved-as-one bits with DR6.RTM (bit 16) set, as KVM reports them.</summary>
    private const ulong Dr6Fixed = 0xFFFF_0FF0;

    /// <summary>DR6 of a single-step: BS (bit 14) with the fixed bits.</summary>
    private const ulong Dr6SingleStep = Dr6Fixed | 0x4000;

    /// <summary>
    /// KVM's <c>kvm_skip_emulated_instruction</c>, the only way an instruction the hypervisor completed
    /// is retired: samples TF before the skip, advances RIP by <paramref name="length"/> (or by the
    /// decoded length when the CPU model withheld it: 0), clears RF and the interrupt shadow, then
    /// single-steps when TF was set (a #DB with DR6.BS, or a <c>Debug</c> exit under guest debugging).
    /// Returns 1 to go on, 0 for an exit to the VMM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every completed exit; NativeAOT does not inline it on its own
    internal int SkipEmulatedInstruction(int length)
    {
        ulong oldRflags = _cpu.Regs.Rflags;
        if (!VendorSkip(length))
        {
            return 0;
        }

        if ((oldRflags & Rflags.TF) != 0 || GuestSingleStep)
        {
            return DoSingleStep();
        }

        return 1;
    }

    /// <summary>
    /// The VMX skip: the exit's instruction length when valid, otherwise a skip-mode decode (RIP only,
    /// truncated outside 64-bit mode); always clears RF and the interrupt shadow. On a decode failure
    /// nothing changes and the result is an emulation-failure exit (or #UD above CPL 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool VendorSkip(int length)
    {
        ulong next;
        if (length > 0)
        {
            next = MaskIp(_cpu.Regs.Rip + (ulong)length);
        }
        else if (!_cpu.TryDecodeNextRip(out next, out _))
        {
            HandleEmulationFailure("the instruction to skip cannot be fetched or decoded");
            return false;
        }

        ref var r = ref _cpu.Regs;
        r.Rip = next;
        r.Rflags &= ~Rflags.RF;
        _cpu.Shadow = InterruptShadow.None;
        return true;
    }

    /// <summary>KVM's <c>kvm_vcpu_do_singlestep</c>: a <c>Debug</c> exit under guest single-step, else a #DB(BS) for the guest.</summary>
    private int DoSingleStep()
    {
        if (GuestSingleStep)
        {
            return DebugExit(ExceptionVector.DB, Dr6SingleStep);
        }

        _cpu.InjectException(ExceptionVector.DB, dr6: 0x4000);
        return 1;
    }
}

namespace SoftKvm.X86.Kvm;

/// <summary>
/// EPT violations: the fast-MMIO short cut (docs/kvm-semantics.md#x86-skip-and-single-step) and the MMU
/// page-fault path to the emulator.
/// </summary>
public sealed partial class X86Vcpu
{
    /// <summary>
    /// A guest-physical access no memory slot backs. A data write whose address has a zero-length
    /// ioeventfd (KVM's FAST_MMIO bus) signals it and skips the instruction through the common skip
    /// routine, decoding for the length when the CPU model withholds it (nested, EPT-misconfig style).
    /// Anything else (reads, fetches, page-table walks) goes to the emulator.
    /// </summary>
    private int HandleEptViolation()
    {
        ref readonly var e = ref _cpu.Exit;
        bool fetch = (e.Qualification & 4) != 0;
        bool final = (e.Qualification & 0x100) != 0;
        if (e.IsWrite && !fetch && final && _vm.MmioBus.TrySignalFastMmio(e.GuestPhysicalAddress))
        {
            return SkipEmulatedInstruction(InstructionLengthOrUnknown());
        }

        return Emulate(EmulationKind.Mmio, e.FastAccesses);
    }
}

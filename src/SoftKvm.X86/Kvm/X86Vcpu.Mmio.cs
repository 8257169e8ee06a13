using System.Runtime.CompilerServices;
using SoftKvm.X86.Cpu;

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
    /// Anything else (reads, fetches, page-table walks) goes to the emulator; a read the fast path declined was
    /// the emulator's first pass already (<see cref="BeginDeclinedRead"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int HandleEptViolation()
    {
        ref readonly var e = ref _cpu.Exit;
        bool fetch = (e.Qualification & 4) != 0;
        bool final = (e.Qualification & 0x100) != 0;
        if (e.IsWrite && !fetch && final && _vm.MmioBus.TrySignalFastMmio(e.GuestPhysicalAddress))
        {
            return SkipEmulatedInstruction(InstructionLengthOrUnknown());
        }

        if (e.FastPathDeclined && !e.IsWrite && e.FastAccesses < LogCapacity)
        {
            return BeginDeclinedRead(in e);
        }

        return Emulate(EmulationKind.Mmio, e.FastAccesses);
    }

    /// <summary>
    /// A data read no in-kernel device serves, which the CPU model offered to the fast path while it executed
    /// the instruction exactly as the emulator would (<see cref="X86Exit.FastPathDeclined"/>): the emulator's
    /// first pass would replay the same earlier accesses from the log, stop at the same read and exit to the
    /// VMM, so its state is set here as that pass leaves it, and the instruction is executed once, at
    /// completion (KVM emulates an MMIO read once before its exit and completes it after; the counts are the
    /// same: <c>insn_emulation</c> unless the fast path counted the instruction, and <c>mmio_exits</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // an exit path: no precompiled code on ReadyToRun, optimized from the first call (docs/performance.md#exit-paths-and-tiering)
    private int BeginDeclinedRead(in X86Exit e)
    {
        if (e.FastAccesses == 0)
        {
            Stats.Increment(X86Stat.InsnEmulation);
        }

        _emulationKind = EmulationKind.Mmio;
        _lastTrigger = -1;
        _fragmentCount = 0;
        _fragmentPos = 0;
        _overflow = false;
        _logCount = e.FastAccesses;
        _missIndex = _logCount;
        _log[_logCount++] = new AccessRecord { Address = e.GuestPhysicalAddress, Length = e.AccessSize, Size = e.AccessSize, Access = _cpu.EmulatedAccess };
        _logPos = _logCount;
        return BeginReadExit(fresh: true);
    }
}

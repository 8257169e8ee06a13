using SoftKvm.Core;
using SoftKvm.Core.Run;

namespace SoftKvm.Vmm.Gdb;

/// <summary>The kind of a gdb breakpoint or watchpoint (the number of its Z packet).</summary>
internal enum GdbPointKind
{
    Software = 0,
    Hardware = 1,
    Write = 2,
    Read = 3,
    Access = 4,
}

/// <summary>A hardware breakpoint or watchpoint gdb asked for (Z1-Z4).</summary>
internal readonly record struct GdbHardwarePoint(GdbPointKind Kind, ulong Address, int Length);

/// <summary>
/// What the debugger asks of one vCPU while it runs: KVM_SET_GUEST_DEBUG's inputs. <paramref name="BlockInterrupts"/>
/// (with <paramref name="SingleStep"/>) holds interrupts pending during the step: QEMU's SSTEP_NOIRQ.
/// </summary>
internal readonly record struct GdbDebugSettings(bool SingleStep, bool SoftwareBreakpoints, IReadOnlyList<GdbHardwarePoint> HardwarePoints, bool BlockInterrupts = false);

/// <summary>
/// The single-step flags of QEMU's gdbstub (<c>maintenance packet qqemu.sstep=N</c>), with QEMU's values. SoftKvm offers
/// what QEMU offers with KVM (ENABLE and NOIRQ, the latter through KVM_GUESTDBG_BLOCKIRQ); NOTIMER, which only
/// QEMU's TCG offers, is refused as QEMU refuses a flag its accelerator lacks.
/// </summary>
[Flags]
internal enum GdbStepFlags
{
    /// <summary>SSTEP_ENABLE.</summary>
    Enable = 1,

    /// <summary>SSTEP_NOIRQ: no interrupt is taken during a step (the default).</summary>
    NoIrq = 2,

    /// <summary>What the stub supports.</summary>
    Supported = Enable | NoIrq,
}

/// <summary>How a <c>Debug</c> exit reads to gdb.</summary>
internal enum GdbStopKind
{
    /// <summary>A single-step completed.</summary>
    Step,

    /// <summary>A software breakpoint instruction (BRK, INT3).</summary>
    SoftwareBreakpoint,

    /// <summary>A hardware breakpoint.</summary>
    HardwareBreakpoint,

    /// <summary>A watchpoint; the address is in the stop.</summary>
    Watchpoint,
}

/// <summary>
/// One architecture as gdb sees it, over the KVM-shaped vCPU API (docs/architecture.md#gdb-stub): the target
/// description, the register numbering of the <c>g</c>/<c>p</c> packets, address translation, the
/// breakpoint instruction, and guest debugging.
/// </summary>
internal interface IGdbTarget
{
    /// <summary>target.xml.</summary>
    string TargetXml { get; }

    /// <summary>The sizes in bytes of the registers, in gdb's numbering.</summary>
    IReadOnlyList<int> RegisterSizes { get; }

    /// <summary>The software breakpoint instruction's bytes (gdb's Z0 kind is ignored).</summary>
    ReadOnlySpan<byte> BreakpointInstruction { get; }

    /// <summary>Reads register <paramref name="n"/> (little-endian, <see cref="RegisterSizes"/> bytes).</summary>
    void ReadRegister(Vcpu vcpu, int n, Span<byte> value);

    /// <summary>Writes register <paramref name="n"/>; false when the value cannot be set (then nothing changed).</summary>
    bool WriteRegister(Vcpu vcpu, int n, ReadOnlySpan<byte> value);

    /// <summary>The guest-physical address of <paramref name="virtualAddress"/> through the guest's MMU.</summary>
    bool Translate(Vcpu vcpu, ulong virtualAddress, out ulong physicalAddress);

    /// <summary>Whether the hardware points fit the vCPU's debug registers.</summary>
    bool Fits(IReadOnlyList<GdbHardwarePoint> points);

    /// <summary>Programs guest debugging of <paramref name="vcpu"/> (held, not running).</summary>
    void Apply(Vcpu vcpu, GdbDebugSettings settings);

    /// <summary>
    /// Classifies a <c>Debug</c> exit. False when the event is the guest's own and was given back to it
    /// (an INT3 that is not the debugger's): the vCPU just goes on.
    /// </summary>
    bool Classify(Vcpu vcpu, in DebugExit exit, Func<ulong, bool> isDebuggerBreakpoint, IReadOnlyList<GdbHardwarePoint> points, out GdbStopKind kind, out GdbHardwarePoint watch);
}

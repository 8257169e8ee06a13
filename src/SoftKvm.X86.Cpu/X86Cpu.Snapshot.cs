namespace SoftKvm.X86.Cpu;

/// <summary>
/// The event state of an x86 CPU between instructions, as KVM's <c>kvm_vcpu_events</c> carries it for save and
/// restore: an interrupt acknowledged from the interrupt controller and waiting for the window, a pending NMI,
/// NMI blocking, the STI / MOV SS shadow, debug traps held back by a shadow, and the shutdown state.
/// </summary>
/// <param name="PendingInterrupt">The acknowledged vector the CPU takes once IF=1 and no shadow, or -1.</param>
/// <param name="PendingNmi">An NMI to deliver.</param>
/// <param name="NmiBlocked">NMIs blocked (inside an NMI handler until IRET).</param>
/// <param name="Shadow">The interrupt shadow.</param>
/// <param name="HeldDebugTraps">Single-step and data breakpoint traps held until the shadow ends (DR6 bits).</param>
/// <param name="Shutdown">The CPU is in shutdown (a triple fault).</param>
public readonly record struct X86EventState(int PendingInterrupt, bool PendingNmi, bool NmiBlocked, InterruptShadow Shadow, ulong HeldDebugTraps, bool Shutdown);

public sealed partial class X86Cpu
{
    /// <summary>The event state (between runs).</summary>
    /// <exception cref="InvalidOperationException">an event is being delivered (never between instructions).</exception>
    public X86EventState GetEventState() =>
        _injectedVector >= 0
            ? throw new InvalidOperationException($"vector {_injectedVector} is being delivered")
            : new(_pendingInterrupt, _pendingNmi, _nmiBlocked, _shadow, _heldDebugTraps, IsShutdown);

    /// <summary>Sets the event state (a restored snapshot).</summary>
    public void SetEventState(in X86EventState state)
    {
        _pendingInterrupt = state.PendingInterrupt is >= 0 and <= 255 ? state.PendingInterrupt : -1;
        _pendingNmi = state.PendingNmi;
        _nmiBlocked = state.NmiBlocked;
        _shadow = state.Shadow;
        _heldDebugTraps = state.HeldDebugTraps;
        IsShutdown = state.Shutdown;
        _injectedVector = -1;
    }

    /// <summary>Makes the guest TSC read <paramref name="value"/> now and go on from there (through the TSC offset, as a write of IA32_TSC).</summary>
    public void SetTsc(ulong value) => _regs.TscOffset = (long)value - (long)RawTsc();
}

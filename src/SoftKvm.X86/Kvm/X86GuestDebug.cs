namespace SoftKvm.X86.Kvm;

/// <summary>The <c>KVM_GUESTDBG_*</c> control bits of <see cref="X86Vcpu.SetGuestDebug"/>.</summary>
[Flags]
public enum X86GuestDebugFlags
{
    /// <summary>Guest debugging off: #DB and #BP go to the guest.</summary>
    None = 0,

    /// <summary><c>KVM_GUESTDBG_ENABLE</c>: guest debugging on.</summary>
    Enable = 1 << 0,

    /// <summary><c>KVM_GUESTDBG_SINGLESTEP</c>: a <c>Debug</c> exit after every instruction (also skipped ones).</summary>
    SingleStep = 1 << 1,

    /// <summary><c>KVM_GUESTDBG_USE_SW_BP</c>: INT3 makes a <c>Debug</c> exit (exception 3) instead of a guest #BP.</summary>
    UseSoftwareBreakpoints = 1 << 16,

    /// <summary><c>KVM_GUESTDBG_USE_HW_BP</c>: the debugger's DR0-DR3/DR7 are active while the guest runs; hits make <c>Debug</c> exits.</summary>
    UseHardwareBreakpoints = 1 << 17,

    /// <summary><c>KVM_GUESTDBG_BLOCKIRQ</c>: no external interrupt is injected while guest debugging is on (NMIs still are),
    /// so that a single-step goes to the next instruction of the code being stepped, not into an interrupt handler.</summary>
    BlockInterrupts = 1 << 20,
}

namespace SoftKvm.Arm64.Kvm;

/// <summary>The <c>KVM_GUESTDBG_*</c> control bits of <see cref="Arm64Vcpu.SetGuestDebug"/>.</summary>
[Flags]
public enum Arm64GuestDebugFlags
{
    /// <summary>Guest debugging off: BRK, breakpoints, watchpoints and software step are the guest's own.</summary>
    None = 0,

    /// <summary><c>KVM_GUESTDBG_ENABLE</c>: guest debugging on.</summary>
    Enable = 1 << 0,

    /// <summary><c>KVM_GUESTDBG_SINGLESTEP</c>: a <c>Debug</c> exit (EC 0x32) after every instruction, also one the
    /// hypervisor completes (MMIO, HVC, WFI), or after an exception entry, with PC at the next instruction to run.</summary>
    SingleStep = 1 << 1,

    /// <summary><c>KVM_GUESTDBG_USE_SW_BP</c>: BRK makes a <c>Debug</c> exit (EC 0x3C, PC at the BRK) instead of a guest exception.</summary>
    UseSoftwareBreakpoints = 1 << 16,

    /// <summary><c>KVM_GUESTDBG_USE_HW</c>: the debugger's breakpoints and watchpoints (<see cref="Arm64GuestDebugRegisters"/>)
    /// replace the guest's while it runs; hits make <c>Debug</c> exits (EC 0x30, or 0x34 with FAR, PC at the instruction).</summary>
    UseHardware = 1 << 17,

    /// <summary>
    /// x86's <c>KVM_GUESTDBG_BLOCKIRQ</c>, which arm64 KVM does not offer (its single-step is taken by the exception
    /// entry of a pending interrupt, PC at the IRQ vector): no IRQ or FIQ is taken while guest debugging is on;
    /// they stay pending and are taken once the debugger clears this flag. What QEMU's gdbstub asks for with
    /// SSTEP_NOIRQ, so that a single-step runs the next instruction of the code being stepped
    /// (docs/kvm-semantics.md#arm64-guest-debug).
    /// </summary>
    BlockInterrupts = 1 << 20,
}

/// <summary>
/// <c>struct kvm_guest_debug_arch</c>: the debugger's breakpoints and watchpoints as (value, control) pairs in
/// DBGBVR/DBGBCR and DBGWVR/DBGWCR format (control bit 0 = enabled, PMC bits 2:1, BAS, LSC for watchpoints).
/// </summary>
/// <param name="Breakpoints">At most <see cref="Arm64Vcpu.HardwareBreakpoints"/> entries.</param>
/// <param name="Watchpoints">At most <see cref="Arm64Vcpu.HardwareWatchpoints"/> entries.</param>
public sealed record Arm64GuestDebugRegisters((ulong Value, ulong Control)[] Breakpoints, (ulong Value, ulong Control)[] Watchpoints);

namespace SoftKvm.X86.Cpu;

/// <summary>The outcome of <see cref="X86Cpu.EmulateOne"/>, as KVM's emulator reports it to <c>x86_emulate_instruction</c>.</summary>
public enum X86EmulationResult
{
    /// <summary>The instruction retired: RIP, RFLAGS and registers are committed. See
    /// <see cref="X86Cpu.LastSingleStep"/> for whether TF was set when it started (the caller single-steps).</summary>
    Retired = 0,

    /// <summary>The instruction raised an exception (in <see cref="X86Cpu.Exit"/>: vector, error code).
    /// Fault class: nothing was committed and RIP is unchanged. Trap class (#BP, #OF): the instruction
    /// retired first. The exception is not delivered: the caller injects it (<see cref="X86Cpu.InjectException"/>).</summary>
    Exception,

    /// <summary>An access needs userspace; nothing was committed (<see cref="X86Cpu.Exit"/> describes it).</summary>
    NeedsUserspace,

    /// <summary>The instruction cannot be emulated (undecodable, unimplemented, or unreadable code). Nothing was committed.</summary>
    Failed,
}

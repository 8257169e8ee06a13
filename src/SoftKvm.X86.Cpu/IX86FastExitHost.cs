namespace SoftKvm.X86.Cpu;

/// <summary>
/// The hypervisor's exit fast paths (<see cref="X86Cpu.FastExits"/>): exits it completes where they
/// happen, inside <see cref="X86Cpu.Run"/>, instead of having the CPU stop and its run loop handle them —
/// as KVM completes an in-kernel device access without a return to userspace. The CPU offers a data access
/// to a guest-physical address without a memory slot, and a non-string IN or OUT, while an instruction
/// executes in the interpreter and nothing debugs it (RFLAGS.TF clear, no DR7 breakpoint armed), and a WRMSR the
/// model leaves to the hypervisor. Declining
/// does nothing: the instruction then stops with the ordinary EPT-violation or IO exit.
/// </summary>
public interface IX86FastExitHost
{
    /// <summary>
    /// One access of <paramref name="size"/> bytes (1 to 8, within a page) to guest-physical
    /// <paramref name="gpa"/>; a write's data, little-endian, in <paramref name="value"/>. True when an
    /// in-kernel device has performed it and the hypervisor counted the exit: a read's bytes, zero-extended,
    /// are in <paramref name="value"/>. <paramref name="index"/> counts the accesses of the same instruction
    /// completed this way before it (0 for the first): should a later access of the instruction be declined,
    /// its EPT-violation exit carries the count in <see cref="X86Exit.FastAccesses"/>, and the emulator must
    /// replay those accesses, not repeat them on the bus.
    /// </summary>
    bool TryCompleteMmio(ulong gpa, int size, bool write, ref ulong value, int index);

    /// <summary>
    /// A non-string IN (<paramref name="write"/> false) or OUT of <paramref name="size"/> bytes at
    /// <paramref name="port"/>, OUT's data in <paramref name="value"/>. True when an in-kernel device has
    /// performed it and the hypervisor counted the exit; an IN's bytes are in <paramref name="value"/>,
    /// which the CPU merges into RAX as the instruction does.
    /// </summary>
    bool TryCompletePortIo(ushort port, int size, bool write, ref ulong value);

    /// <summary>
    /// A WRMSR of <paramref name="value"/> (EDX:EAX) to MSR <paramref name="msr"/> (ECX) that the CPU model leaves
    /// to the hypervisor, offered before its exit. True when the hypervisor performed it and counted the exit: the
    /// instruction retires. False: nothing was done, and the WRMSR exit follows (a write the hypervisor would refuse
    /// is declined, so that the exit raises its #GP). The default declines every one.
    /// </summary>
    bool TryCompleteMsrWrite(uint msr, ulong value) => false;
}

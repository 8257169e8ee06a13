namespace SoftKvm.X86.Cpu;

/// <summary>The outcome of one access the emulation bus was asked to perform.</summary>
public enum X86BusResult
{
    /// <summary>The access was performed (for reads, the data span was filled).</summary>
    Done = 0,

    /// <summary>The access needs userspace: the emulation stops without committing anything and
    /// returns <see cref="X86ExitReason.NeedsUserspace"/> with the access described in <see cref="X86Exit"/>.</summary>
    NeedsUserspace,
}

/// <summary>
/// The accesses an instruction executed by <see cref="X86Cpu.EmulateOne"/> makes to guest-physical
/// addresses without a memory slot, and to IO ports. The hypervisor's implementation dispatches to
/// in-kernel devices, replays data that userspace completed, or answers
/// <see cref="X86BusResult.NeedsUserspace"/>. RAM accesses never reach it.
/// </summary>
public interface IX86EmulationBus
{
    /// <summary>Reads <paramref name="data"/>.Length bytes at <paramref name="gpa"/> (1..8 bytes, never crossing a page).</summary>
    X86BusResult ReadMemory(ulong gpa, Span<byte> data);

    /// <summary>Writes <paramref name="data"/> at <paramref name="gpa"/>.</summary>
    X86BusResult WriteMemory(ulong gpa, ReadOnlySpan<byte> data);

    /// <summary>
    /// Reads <paramref name="data"/>.Length / <paramref name="size"/> elements of <paramref name="size"/> bytes
    /// (1, 2 or 4) from an IO port, in order: one for IN, a batch for REP INS (KVM's <c>emulator_pio_in</c>
    /// with its count). <see cref="X86BusResult.NeedsUserspace"/> means the whole batch goes to userspace.
    /// </summary>
    X86BusResult ReadPort(ushort port, int size, Span<byte> data);

    /// <summary>Writes an IO port (1, 2 or 4 bytes).</summary>
    X86BusResult WritePort(ushort port, ReadOnlySpan<byte> data);
}

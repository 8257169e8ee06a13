namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// What the hypervisor gives the CPU model for native code to complete a device read itself (issue 19,
/// <see cref="ICpuHost.TryGetFixedReads"/>): the fixed-value table of one device page (1,024 entries, a 32-bit word's value
/// with bit 32 set where the word reads a fixed value, else 0), good while the bus generation at <see cref="BusGeneration"/>
/// is <see cref="Generation"/>, and the two statistics such a read counts (<c>exits</c> and <c>mmio_exit_kernel</c>, as
/// KVM counts an in-kernel MMIO exit). Every pointer is to memory that never moves.
/// </summary>
public readonly unsafe struct DeviceFixedReads(ulong* words, long* busGeneration, long generation, long* exits, long* mmioExitKernel)
{
    /// <summary>The page's table.</summary>
    public ulong* Words { get; } = words;

    /// <summary>The bus's generation, which changes when a device is registered or unregistered.</summary>
    public long* BusGeneration { get; } = busGeneration;

    /// <summary>The generation the table was found at.</summary>
    public long Generation { get; } = generation;

    /// <summary>The vCPU's <c>exits</c> statistic.</summary>
    public long* Exits { get; } = exits;

    /// <summary>The vCPU's <c>mmio_exit_kernel</c> statistic.</summary>
    public long* MmioExitKernel { get; } = mmioExitKernel;
}

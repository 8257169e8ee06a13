namespace SoftKvm.Vmm.Runner;

/// <summary>
/// The VMM's own counts of the exits it handled (<see cref="VmRunner.MmioExitsSeen"/>, <see cref="VmRunner.IoExitsSeen"/>),
/// as a snapshot saves them so that a restored run's counts go on from the saved run's.
/// </summary>
/// <param name="Mmio">The <c>KVM_EXIT_MMIO</c> returns handled.</param>
/// <param name="Io">The <c>KVM_EXIT_IO</c> returns handled.</param>
public readonly record struct VmmExitCounts(long Mmio, long Io);

namespace SoftKvm.Devices.Pci;

/// <summary>The saved state of a <see cref="PciTestDevice"/>.</summary>
/// <param name="Function">The PCI function's configuration and interrupt state.</param>
/// <param name="CurrentTest">The running test (0-5), or -1.</param>
/// <param name="Counts">Each test's count.</param>
public sealed record PciTestDeviceState(PciFunctionState Function, int CurrentTest, IReadOnlyList<uint> Counts);

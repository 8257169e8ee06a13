namespace SoftKvm.Devices.Pci;

/// <summary>The saved state of a <see cref="PciDevice"/>: its configuration space, its MSI-X table and pending bits, and its INTx level.</summary>
/// <param name="Config">The configuration space bytes.</param>
/// <param name="MsixTable">The MSI-X table bytes, or null without MSI-X.</param>
/// <param name="MsixPending">The MSI-X pending bits, or null without MSI-X.</param>
/// <param name="IntxLevel">The level the function drives on its INTx pin.</param>
public sealed record PciFunctionState(byte[] Config, byte[]? MsixTable, ulong[]? MsixPending, bool IntxLevel);

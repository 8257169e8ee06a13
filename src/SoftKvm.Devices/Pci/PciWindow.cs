namespace SoftKvm.Devices.Pci;

/// <summary>A range of bus addresses the firmware may give BARs: [<paramref name="Start"/>, <paramref name="Start"/> + <paramref name="Size"/>).</summary>
/// <param name="Start">The first address.</param>
/// <param name="Size">The size in bytes.</param>
public readonly record struct PciWindow(ulong Start, ulong Size)
{
    /// <summary>The last address in the window.</summary>
    public ulong Last => Start + Size - 1;
}

namespace SoftKvm.Devices.Pci;

/// <summary>
/// A function that is only its configuration header, with no BAR and no interrupt: what a VMM shows for
/// a host bridge (QEMU's i440FX: 8086:1237) or an ISA bridge (PIIX3: 8086:7000), so that enumeration finds
/// the chipset a guest expects. Chipset registers beyond the header read as zero and ignore writes.
/// </summary>
/// <param name="identity">The identification fields.</param>
public sealed class PciHeaderFunction(PciIdentity identity) : PciDevice(identity)
{
}

using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Arm;

/// <summary>
/// The root function 00.0 of QEMU's generic PCIe host bridge (<c>gpex-root</c>, which QEMU's arm64 <c>virt</c>
/// puts behind its ECAM window): Red Hat 1b36:0008, class 0x060000 (host bridge), no BARs.
/// </summary>
public sealed class GpexHostBridge : PciDevice
{
    /// <summary>Red Hat, Inc. (QEMU's own PCI devices).</summary>
    public const ushort VendorRedHat = 0x1B36;

    /// <summary>QEMU PCIe Host bridge.</summary>
    public const ushort DeviceGpexRoot = 0x0008;

    /// <summary>Creates the host bridge function.</summary>
    public GpexHostBridge()
        : base(new PciIdentity(VendorRedHat, DeviceGpexRoot, 0x060000))
    {
    }
}

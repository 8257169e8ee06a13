using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.X86;

/// <summary>
/// The PC's PCI host bridge at 00:00.0 as QEMU's <c>pc</c> machine presents it: Intel's 82441FX
/// (i440FX) PMC, vendor 8086, device 1237, revision 02, class 06 00 00 (host bridge), QEMU's subsystem
/// 1AF4:1100. Operating systems and test suites find bus 0 by this function. Its chipset registers
/// (PAM, SMRAM, DRAM rows at 0x50-0x7F) have nothing to control here (RAM is RAM, there is no SMM): they
/// read as zero and ignore writes, as every other unimplemented configuration byte of the PCI core.
/// </summary>
public sealed class I440fxHostBridge : PciDevice
{
    /// <summary>Intel's vendor ID.</summary>
    public const ushort VendorIntel = 0x8086;

    /// <summary>The 82441FX's device ID.</summary>
    public const ushort DeviceI440fx = 0x1237;

    /// <summary>Creates the function.</summary>
    public I440fxHostBridge()
        : base(new PciIdentity(VendorIntel, DeviceI440fx, 0x060000, Revision: 2))
    {
    }
}

namespace SoftKvm.Devices.Pci;

/// <summary>
/// The read-only identification fields of a function's configuration header (PCI Local Bus
/// Specification 3.0, section 6.2.1).
/// </summary>
/// <param name="VendorId">The vendor ID (for example 0x8086 Intel, 0x1AF4 virtio, 0x1B36 Red Hat).</param>
/// <param name="DeviceId">The device ID.</param>
/// <param name="ClassCode">The 24-bit class code: base class in bits 23:16, subclass 15:8, programming interface 7:0.</param>
/// <param name="Revision">The revision ID.</param>
/// <param name="SubsystemVendorId">The subsystem vendor ID (QEMU gives every device 0x1AF4).</param>
/// <param name="SubsystemId">The subsystem ID (QEMU's default 0x1100).</param>
public readonly record struct PciIdentity(ushort VendorId, ushort DeviceId, uint ClassCode, byte Revision = 0,
    ushort SubsystemVendorId = PciIdentity.QemuSubsystemVendor, ushort SubsystemId = PciIdentity.QemuSubsystem)
{
    /// <summary>The subsystem vendor QEMU gives its devices (Red Hat's virtio vendor ID).</summary>
    public const ushort QemuSubsystemVendor = 0x1AF4;

    /// <summary>The subsystem ID QEMU gives its devices.</summary>
    public const ushort QemuSubsystem = 0x1100;
}

using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// The PCIe enhanced configuration access mechanism of the <c>virt</c> host bridge (PCIe base spec 7.2.2):
/// offset = bus &lt;&lt; 20 | device &lt;&lt; 15 | function &lt;&lt; 12 | register. Bus 0 is the root bus; the
/// other buses of the window have no devices and read as all ones.
/// </summary>
internal sealed class VirtPciEcam(PciBus bus) : IIoDevice
{
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (Target(offset) is { } a)
        {
            bus.ReadConfig(a, (int)(offset & 0xFFF), data);
        }
        else
        {
            data.Fill(0xFF);
        }
    }

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        if (Target(offset) is { } a)
        {
            bus.WriteConfig(a, (int)(offset & 0xFFF), data);
        }
    }

    // Only the root bus has devices.
    private PciAddress? Target(ulong offset) =>
        (offset >> 20) == bus.Number ? new PciAddress(bus.Number, (int)(offset >> 15) & 31, (int)(offset >> 12) & 7) : null;
}

/// <summary>The <c>virt</c> host bridge's I/O window: an MMIO access at offset n is an access to PCI I/O port n.</summary>
internal sealed class VirtPciIoWindow(IoBus io) : IIoDevice
{
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (!io.Read(vcpu, offset, data))
        {
            data.Fill(0xFF);
        }
    }

    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => io.Write(vcpu, offset, data);
}

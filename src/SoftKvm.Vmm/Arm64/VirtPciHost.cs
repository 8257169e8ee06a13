using SoftKvm.Core;
using SoftKvm.Core.Io;
using SoftKvm.Devices;
using SoftKvm.Devices.Pci;
using static SoftKvm.Vmm.Arm64.VirtMemoryMap;

namespace SoftKvm.Vmm.Arm64;

/// <summary>
/// What QEMU's <c>virt</c> gives its PCIe bus (<c>pci-host-ecam-generic</c>): memory BARs on the VMM's MMIO
/// bus (the 32-bit window maps PCI memory addresses 1:1), I/O BARs on the machine's port bus (reached through
/// the <see cref="VirtPciIoWindow"/>), ioeventfds in the VM, and INTx pin p of device d on SPI 3 + (d + p - 1)
/// mod 4 (INTIDs 35..38, level, shared). MSIs go to the ITS (<c>msi-map</c> in the device tree), which needs the
/// requester ID as its DeviceID: <see cref="IPciHost.DeliverMsi"/> does not carry it yet, so an MSI is refused
/// with a log line rather than delivered to a guessed device.
/// </summary>
internal sealed class VirtPciHost(Vm vm, IArm64VirtBackend backend, IoBus memory, IoBus io, Action<string> log) : IPciHost
{
    private readonly SharedIrqLine?[] _intx = new SharedIrqLine?[4];

    public IoBus MemorySpace => memory;

    public IoBus? IoSpace => io;

    public void RegisterIoEvent(IoBusKind space, IoEvent ioEvent) => vm.RegisterIoEvent(space, ioEvent);

    public void UnregisterIoEvent(IoBusKind space, IoEvent ioEvent) => vm.UnregisterIoEvent(space, ioEvent);

    public void DeliverMsi(ulong address, uint data) =>
        log($"PCI MSI to 0x{address:x} (data 0x{data:x}) not delivered: the PCI core gives no requester ID for the ITS's DeviceID");

    public IIrqLine GetIntxLine(PciAddress address, int pin)
    {
        int intId = PcieIntxIntId(address.Device, pin);
        lock (_intx)
        {
            return (_intx[intId - PcieFirstIntxIntId] ??= new SharedIrqLine(backend.GetSpiLine(vm, intId))).NewInput();
        }
    }

    public void Log(string message) => log(message);
}

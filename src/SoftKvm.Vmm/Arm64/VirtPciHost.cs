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
/// mod 4 (INTIDs 35..38, level, shared). An MSI is the function's memory write: at the ITS's GITS_TRANSLATER
/// it is translated with the function's requester ID as DeviceID (the device tree's <c>msi-map</c> maps
/// requester IDs 0..0xffff 1:1 to ITS DeviceIDs, as QEMU's virt does), as QEMU's ITS frame hands KVM_SIGNAL_MSI
/// the requester ID; elsewhere in RAM it is a plain DMA write, and anywhere else it is lost with a log line.
/// </summary>
internal sealed class VirtPciHost(Vm vm, IArm64VirtBackend backend, IoBus memory, IoBus io, Action<string> log) : IPciHost
{
    private readonly SharedIrqLine?[] _intx = new SharedIrqLine?[4];

    public IoBus MemorySpace => memory;

    public IoBus? IoSpace => io;

    public void RegisterIoEvent(IoBusKind space, IoEvent ioEvent) => vm.RegisterIoEvent(space, ioEvent);

    public void UnregisterIoEvent(IoBusKind space, IoEvent ioEvent) => vm.UnregisterIoEvent(space, ioEvent);

    public void DeliverMsi(PciAddress requester, ulong address, uint data)
    {
        // Blocked (no translation for the DeviceID/EventID) and Busy (ITS disabled) drop the write, as the ITS does.
        var result = backend.SignalMsi(vm, address, data, requester.RequesterId);
        if (result is not (MsiResult.InvalidAddress or MsiResult.NoController))
        {
            return;
        }

        if (vm.Memory.IsBacked(address, 4))
        {
            vm.Memory.Write(address, data);
        }
        else
        {
            log($"PCI {requester}: MSI write of 0x{data:x} to 0x{address:x} reaches no ITS doorbell and no RAM; lost");
        }
    }

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

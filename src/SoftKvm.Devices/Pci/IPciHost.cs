using SoftKvm.Core.Io;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// What a machine gives its PCI bus: the address spaces base address registers decode in, the
/// hypervisor's ioeventfds, message-signalled interrupts and the wiring of INTx pins. The PCI core knows
/// nothing else of the machine, so the same devices sit behind configuration mechanism #1 on the PC and
/// behind ECAM on an arm64 <c>virt</c> machine.
/// </summary>
public interface IPciHost
{
    /// <summary>The bus memory BARs are registered on (the VMM's MMIO bus: an access is a <c>KVM_EXIT_MMIO</c>).</summary>
    IoBus MemorySpace { get; }

    /// <summary>The bus I/O BARs are registered on (the VMM's port bus), or null when the machine has no I/O space.</summary>
    IoBus? IoSpace { get; }

    /// <summary>Registers an ioeventfd in the hypervisor (<c>KVM_IOEVENTFD</c>) on the memory or port bus.</summary>
    void RegisterIoEvent(IoBusKind space, IoEvent ioEvent);

    /// <summary>Unregisters an ioeventfd registered by <see cref="RegisterIoEvent"/>.</summary>
    void UnregisterIoEvent(IoBusKind space, IoEvent ioEvent);

    /// <summary>
    /// A message-signalled interrupt: the 32-bit memory write of <paramref name="data"/> to
    /// <paramref name="address"/> by the function at <paramref name="requester"/>. On x86 an address
    /// 0xFEEx_xxxx reaches the local APICs (<c>KVM_SIGNAL_MSI</c>) and the requester plays no part; on arm64
    /// a GICv3 ITS translates the write with the requester ID (<see cref="PciAddress.RequesterId"/>, mapped
    /// by the device tree's <c>msi-map</c>) as its DeviceID (<c>KVM_SIGNAL_MSI</c> with <c>KVM_MSI_VALID_DEVID</c>).
    /// </summary>
    void DeliverMsi(PciAddress requester, ulong address, uint data);

    /// <summary>The line INTx pin <paramref name="pin"/> (1 = INTA# ... 4 = INTD#) of the function at <paramref name="address"/> drives.</summary>
    IIrqLine GetIntxLine(PciAddress address, int pin);

    /// <summary>Reports something the guest did that the PCI core could not honour (a BAR over another device, ...).</summary>
    void Log(string message);
}

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
    /// A message-signalled interrupt: the device's 32-bit memory write of <paramref name="data"/> to
    /// <paramref name="address"/> (on x86 an address 0xFEEx_xxxx reaches the local APICs, as <c>KVM_SIGNAL_MSI</c>).
    /// </summary>
    void DeliverMsi(ulong address, uint data);

    /// <summary>The line INTx pin <paramref name="pin"/> (1 = INTA# ... 4 = INTD#) of the function at <paramref name="address"/> drives.</summary>
    IIrqLine GetIntxLine(PciAddress address, int pin);

    /// <summary>Reports something the guest did that the PCI core could not honour (a BAR over another device, ...).</summary>
    void Log(string message);
}

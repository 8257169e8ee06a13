using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;
using SoftKvm.X86.Irqchip;
using SoftKvm.X86.Kvm;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// What the PC gives its PCI bus: memory BARs on the VMM's MMIO bus and I/O BARs on its port bus,
/// ioeventfds in the <see cref="X86Vm"/>, MSIs to the local APICs (<c>KVM_SIGNAL_MSI</c>) and INTx wired as
/// QEMU's PIIX3 with SeaBIOS's routing: device d's pin p drives PIRQ[(d + p - 1) mod 4], and PIRQ A-D are
/// ISA IRQs 10, 10, 11, 11 (level-triggered, shared).
/// </summary>
internal sealed class PcPciHost(X86Vm vm, X86Irqchip irqchip, PcIrqLines lines, IoBus memory, IoBus io, Action<string> log) : IPciHost
{
    /// <summary>The ISA IRQs PIRQ A-D are routed to.</summary>
    public static readonly int[] PirqIrqs = [10, 10, 11, 11];

    public IoBus MemorySpace => memory;

    public IoBus? IoSpace => io;

    /// <summary>The ISA IRQ of INTx pin <paramref name="pin"/> (1-4) of device <paramref name="device"/>.</summary>
    public static int Irq(int device, int pin) => PirqIrqs[(device + pin - 1) & 3];

    public void RegisterIoEvent(IoBusKind space, IoEvent ioEvent) => vm.RegisterIoEvent(space, ioEvent);

    public void UnregisterIoEvent(IoBusKind space, IoEvent ioEvent) => vm.UnregisterIoEvent(space, ioEvent);

    // The local APICs know no requester ID (no interrupt remapping here).
    public void DeliverMsi(PciAddress requester, ulong address, uint data) => irqchip.SignalMsi(address, data);

    public IIrqLine GetIntxLine(PciAddress address, int pin) => lines.NewInput(Irq(address.Device, pin));

    public void Log(string message) => log(message);
}

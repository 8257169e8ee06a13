using SoftKvm.Core.Io;
using SoftKvm.Devices;
using SoftKvm.X86.Irqchip;

namespace SoftKvm.Vmm.X86;

/// <summary>
/// The PC's interrupt lines as the VMM's devices share them: one <see cref="SharedIrqLine"/> per GSI
/// (IOAPIC pin; ISA IRQs 0-15 also reach the PIC), so a virtio-mmio window, a PCI INTx pin and
/// pc-testdev's IRQ port can drive the same line without undoing each other's level.
/// </summary>
internal sealed class PcIrqLines
{
    private readonly SharedIrqLine[] _lines;

    public PcIrqLines(X86Irqchip irqchip)
    {
        _lines = new SharedIrqLine[IoApic.Pins];
        for (int gsi = 0; gsi < _lines.Length; gsi++)
        {
            _lines[gsi] = new SharedIrqLine(irqchip.GetLine(gsi));
        }
    }

    /// <summary>The number of lines (the IOAPIC's pins).</summary>
    public int Count => _lines.Length;

    /// <summary>A new input to line <paramref name="gsi"/>.</summary>
    public IIrqLine NewInput(int gsi) => _lines[gsi].NewInput();
}

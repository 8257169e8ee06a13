namespace SoftKvm.Core.Io;

/// <summary>
/// One interrupt line out of a device. A device raises and lowers its line and never knows which
/// interrupt controller (GIC, APIC, PIC) or which interrupt number is behind it.
/// </summary>
public interface IIrqLine
{
    /// <summary>Sets the line level: true asserts it, false deasserts it.</summary>
    void Set(bool level);

    /// <summary>An edge: asserts and deasserts the line.</summary>
    void Pulse()
    {
        Set(true);
        Set(false);
    }
}

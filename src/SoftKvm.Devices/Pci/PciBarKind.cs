namespace SoftKvm.Devices.Pci;

/// <summary>What a base address register decodes (PCI Local Bus Specification 3.0, section 6.2.5.1).</summary>
public enum PciBarKind
{
    /// <summary>I/O space (bit 0 set).</summary>
    Io,

    /// <summary>32-bit memory space anywhere below 4 GiB.</summary>
    Memory32,

    /// <summary>64-bit memory space: the BAR and the next one hold the address.</summary>
    Memory64,
}

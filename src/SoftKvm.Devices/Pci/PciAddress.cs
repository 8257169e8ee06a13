namespace SoftKvm.Devices.Pci;

/// <summary>
/// A PCI function's place in configuration space: bus (0-255), device (0-31) and function (0-7), as
/// configuration mechanism #1 and ECAM both encode it. Written <c>bb:dd.f</c> in hex, as lspci does.
/// </summary>
public readonly record struct PciAddress
{
    /// <summary>Creates an address.</summary>
    /// <exception cref="ArgumentOutOfRangeException">device above 31 or function above 7.</exception>
    public PciAddress(byte bus, int device, int function)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(device, 31);
        ArgumentOutOfRangeException.ThrowIfNegative(function);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(function, 7);
        Bus = bus;
        Device = device;
        Function = function;
    }

    /// <summary>The bus number.</summary>
    public byte Bus { get; }

    /// <summary>The device (slot) number, 0-31.</summary>
    public int Device { get; }

    /// <summary>The function number, 0-7.</summary>
    public int Function { get; }

    /// <summary>The 8-bit device/function number (device in bits 7:3, function in bits 2:0).</summary>
    public int DevFn => (Device << 3) | Function;

    /// <summary>
    /// The 16-bit requester ID the function's transactions carry (bus in bits 15:8, device/function in
    /// bits 7:0; PCIe base specification 2.2.6.2): what an IOMMU or a GICv3 ITS knows the function by.
    /// </summary>
    public ushort RequesterId => (ushort)((Bus << 8) | DevFn);

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Bus:x2}:{Device:x2}.{Function:x}");
}

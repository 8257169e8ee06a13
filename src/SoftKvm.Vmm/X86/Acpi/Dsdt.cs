namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// The Differentiated System Description Table (ACPI 6.5 section 5.2.11.1): a definition block in AML
/// (revision 2: 64-bit integers) holding what the PC's operating system needs from it: the soft-off
/// sleep state <c>Name (_S5, Package (4) { 0, 0, 0, 0 })</c> as QEMU's <c>pc</c> declares it (SLP_TYP 0
/// for PM1a_CNT and PM1b_CNT, see <see cref="SoftKvm.Devices.X86.AcpiPm"/>), and the PCI host bridge
/// <c>\_SB.PCI0</c> (<see cref="PciRootBridge"/>): an ACPI kernel such as Linux finds PCI buses only
/// through PNP0A03 devices in the namespace, it does not probe configuration mechanism #1 then.
/// </summary>
public static class Dsdt
{
    /// <summary>The definition block's revision.</summary>
    public const byte Revision = 2;

    /// <summary>The AML of <c>Name (_S5, Package (4) { Zero, Zero, Zero, Zero })</c>.</summary>
    public static ReadOnlySpan<byte> SoftOff =>
    [
        0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', // NameOp "_S5_"
        0x12, 0x06, 0x04, // PackageOp, PkgLength 6, NumElements 4
        0x00, 0x00, 0x00, 0x00, // ZeroOp x 4
    ];

    /// <summary>
    /// <c>Scope (\_SB) { Device (PCI0) { ... } }</c> as QEMU's <c>pc</c> describes its i440FX host bridge: _HID
    /// PNP0A03, _ADR and _UID 0; _CRS with bus numbers 0-255, the configuration ports 0xCF8-0xCFF, the rest of
    /// the I/O space, the VGA window and the memory window the BARs are assigned from
    /// (<see cref="PcPlatform.PciMemoryWindow"/>); _PRT routing every device's INTA-INTD to the GSIs of
    /// <see cref="PcPciHost.Irq"/> (SeaBIOS's PIRQ routing, without link devices: the routing is fixed).
    /// </summary>
    public static byte[] PciRootBridge()
    {
        var prt = new List<byte[]>();
        for (int device = 0; device < 32; device++)
        {
            for (int pin = 1; pin <= 4; pin++)
            {
                prt.Add(Aml.Package(Aml.DWord(((uint)device << 16) | 0xFFFF), Aml.Integer((ulong)(pin - 1)), Aml.Integer(0),
                    Aml.Integer((ulong)PcPciHost.Irq(device, pin))));
            }
        }

        var memory = PcPlatform.PciMemoryWindow;
        return Aml.RootScope(
            "_SB",
            Aml.Device(
                "PCI0",
                Aml.Name("_HID", Aml.EisaId("PNP0A03")),
                Aml.Name("_ADR", Aml.Integer(0)),
                Aml.Name("_UID", Aml.Integer(0)),
                Aml.Name("_CRS", Aml.ResourceTemplate(
                    Aml.WordAddress(Aml.AddressSpace.BusNumber, 0, 0xFF),
                    Aml.IoPort(0xCF8, 0xCF8, 1, 8),
                    Aml.WordAddress(Aml.AddressSpace.Io, 0, 0xCF7),
                    Aml.WordAddress(Aml.AddressSpace.Io, 0xD00, 0xFFFF),
                    Aml.DWordMemory(0xA_0000, 0xB_FFFF, cacheable: true),
                    Aml.DWordMemory((uint)memory.Start, (uint)memory.Last, cacheable: false))),
                Aml.Name("_PRT", Aml.Package([.. prt]))));
    }

    /// <summary>Builds the table.</summary>
    public static byte[] Build()
    {
        byte[] pci = PciRootBridge();
        var t = AcpiTable.New("DSDT", AcpiTable.HeaderSize + SoftOff.Length + pci.Length, Revision);
        SoftOff.CopyTo(t.AsSpan(AcpiTable.HeaderSize));
        pci.CopyTo(t.AsSpan(AcpiTable.HeaderSize + SoftOff.Length));
        return AcpiTable.Seal(t);
    }
}

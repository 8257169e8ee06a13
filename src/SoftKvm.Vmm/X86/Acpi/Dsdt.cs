namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// The Differentiated System Description Table (ACPI 6.5 section 5.2.11.1): a definition block in AML
/// (revision 2: 64-bit integers) holding what the PC's operating system needs from it, the soft-off
/// sleep state <c>Name (_S5, Package (4) { 0, 0, 0, 0 })</c> as QEMU's <c>pc</c> declares it (SLP_TYP 0
/// for PM1a_CNT and PM1b_CNT, see <see cref="SoftKvm.Devices.X86.AcpiPm"/>). The PCI host bridge is not
/// described: Linux finds bus 0 by probing configuration mechanism #1, as on a PC without one.
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

    /// <summary>Builds the table.</summary>
    public static byte[] Build()
    {
        var t = AcpiTable.New("DSDT", AcpiTable.HeaderSize + SoftOff.Length, Revision);
        SoftOff.CopyTo(t.AsSpan(AcpiTable.HeaderSize));
        return AcpiTable.Seal(t);
    }
}

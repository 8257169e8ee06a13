using System.Buffers.Binary;
using System.Text;

namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// The PC's ACPI tables laid out in one block for the BIOS area (ACPI 6.5 section 5.2.5.1: an operating
/// system finds the RSDP on a 16-byte boundary in 0xE0000-0xFFFFF): the RSDP (revision 2, pointing at both
/// the RSDT and the XSDT) at the block's start, the FACS (64-byte aligned), the DSDT, the FADT, the MADT,
/// then the RSDT and XSDT listing the FADT and the MADT. Every table's checksum is set; both RSDP checksums too.
/// </summary>
public static class AcpiTables
{
    /// <summary>The RSDP's size (revision 2).</summary>
    public const int RsdpSize = 36;

    /// <summary>The FACS's offset in the block (64-byte aligned) and size.</summary>
    public const int FacsOffset = 0x40, FacsSize = 64;

    /// <summary>
    /// Builds the block to place at <paramref name="address"/> (16-byte aligned, below 4 GiB) for
    /// <paramref name="cpus"/> vCPUs, the IOAPIC id <paramref name="ioApicId"/>, the level-triggered ISA
    /// IRQs <paramref name="levelIrqs"/> and the PM registers at <paramref name="pmBase"/>.
    /// </summary>
    public static byte[] Build(uint address, int cpus, byte ioApicId, ushort levelIrqs, ushort pmBase)
    {
        if ((address & 15) != 0)
        {
            throw new ArgumentException("the RSDP must be 16-byte aligned", nameof(address));
        }

        var block = new List<byte>(new byte[FacsOffset + FacsSize]);
        uint Place(byte[] table)
        {
            while (block.Count % 16 != 0)
            {
                block.Add(0);
            }

            uint at = address + (uint)block.Count;
            block.AddRange(table);
            return at;
        }

        uint facs = address + FacsOffset;
        uint dsdt = Place(Dsdt.Build());
        uint fadt = Place(Fadt.Build(facs, dsdt, pmBase));
        uint madt = Place(Madt.Build(cpus, ioApicId, levelIrqs));
        uint[] entries = [fadt, madt];
        uint rsdt = Place(Rsdt(entries));
        uint xsdt = Place(Xsdt(entries));

        var bytes = block.ToArray();
        Facs().CopyTo(bytes.AsSpan(FacsOffset));
        Rsdp(rsdt, xsdt).CopyTo(bytes.AsSpan(0));
        return bytes;
    }

    private static byte[] Rsdp(uint rsdt, ulong xsdt)
    {
        var r = new byte[RsdpSize];
        Encoding.ASCII.GetBytes("RSD PTR ", r);
        Encoding.ASCII.GetBytes(AcpiTable.OemId, r.AsSpan(9, 6));
        r[15] = 2; // revision: ACPI 2.0 and later
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), rsdt);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), RsdpSize);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
        r[8] = MpTable.Checksum(r.AsSpan(0, 20));
        r[32] = MpTable.Checksum(r);
        return r;
    }

    private static byte[] Facs()
    {
        var f = new byte[FacsSize];
        Encoding.ASCII.GetBytes("FACS", f);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), FacsSize);
        f[32] = 2; // version (ACPI 4.0 and later); no waking vector, no global lock owner
        return f;
    }

    private static byte[] Rsdt(uint[] entries)
    {
        var t = AcpiTable.New("RSDT", AcpiTable.HeaderSize + (entries.Length * 4), 1);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(AcpiTable.HeaderSize + (i * 4)), entries[i]);
        }

        return AcpiTable.Seal(t);
    }

    private static byte[] Xsdt(uint[] entries)
    {
        var t = AcpiTable.New("XSDT", AcpiTable.HeaderSize + (entries.Length * 8), 1);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(AcpiTable.HeaderSize + (i * 8)), entries[i]);
        }

        return AcpiTable.Seal(t);
    }
}

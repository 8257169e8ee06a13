using System.Buffers.Binary;
using System.Text;

namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// What every ACPI system description table shares (ACPI 6.5 section 5.2.6): the 36-byte header
/// (signature, length, revision, checksum, OEM fields, creator), and the Generic Address Structure
/// (section 5.2.3.2) the FADT uses. SoftKvm's tables carry OEM ID "SOFTKV", OEM table ID "SOFTKVM " and
/// creator "SKVM".
/// </summary>
public static class AcpiTable
{
    /// <summary>The size of the table header.</summary>
    public const int HeaderSize = 36;

    /// <summary>The checksum's offset in the header.</summary>
    public const int ChecksumOffset = 9;

    /// <summary>The OEM ID (6 characters).</summary>
    public const string OemId = "SOFTKV";

    /// <summary>The OEM table ID (8 characters).</summary>
    public const string OemTableId = "SOFTKVM ";

    /// <summary>The Generic Address Structure's address space: system I/O.</summary>
    public const byte SystemIo = 1;

    /// <summary>A new table of <paramref name="length"/> bytes with its header filled in (checksum not yet).</summary>
    public static byte[] New(string signature, int length, byte revision)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, HeaderSize);
        var t = new byte[length];
        Encoding.ASCII.GetBytes(signature, t.AsSpan(0, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)length);
        t[8] = revision;
        Encoding.ASCII.GetBytes(OemId, t.AsSpan(10, 6));
        Encoding.ASCII.GetBytes(OemTableId, t.AsSpan(16, 8));
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(24), 1); // OEM revision
        Encoding.ASCII.GetBytes("SKVM", t.AsSpan(28, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(32), 1); // creator revision
        return t;
    }

    /// <summary>Sets the checksum so the table's bytes sum to zero; returns the table.</summary>
    public static byte[] Seal(byte[] table)
    {
        table[ChecksumOffset] = 0;
        table[ChecksumOffset] = MpTable.Checksum(table);
        return table;
    }

    /// <summary>Whether <paramref name="data"/> sums to zero modulo 256.</summary>
    public static bool SumsToZero(ReadOnlySpan<byte> data) => MpTable.Checksum(data) == 0;

    /// <summary>
    /// Writes a Generic Address Structure at <paramref name="at"/>: system I/O at <paramref name="port"/>,
    /// <paramref name="bits"/> wide, accessed with <paramref name="accessSize"/> (1 = byte ... 4 = qword).
    /// </summary>
    public static void WriteIoAddress(Span<byte> table, int at, ushort port, byte bits, byte accessSize)
    {
        table[at] = SystemIo;
        table[at + 1] = bits;
        table[at + 2] = 0; // bit offset
        table[at + 3] = accessSize;
        BinaryPrimitives.WriteUInt64LittleEndian(table[(at + 4)..], port);
    }
}

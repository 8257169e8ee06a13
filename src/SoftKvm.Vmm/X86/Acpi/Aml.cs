using System.Buffers.Binary;

namespace SoftKvm.Vmm.X86.Acpi;

/// <summary>
/// The few AML encodings the PC's DSDT uses (ACPI 6.5 chapter 20, "ACPI Machine Language Specification"):
/// scopes, devices, named objects, integers, packages and buffers, and the resource descriptors of a
/// PCI host bridge's <c>_CRS</c> (section 6.4). Each method returns the encoded bytes of one term.
/// </summary>
internal static class Aml
{
    private const byte ZeroOp = 0x00, OneOp = 0x01, NameOp = 0x08, BytePrefix = 0x0A, WordPrefix = 0x0B,
        DWordPrefix = 0x0C, QWordPrefix = 0x0E, ScopeOp = 0x10, BufferOp = 0x11, PackageOp = 0x12, ExtOpPrefix = 0x5B,
        DeviceOp = 0x82, RootChar = 0x5C;

    /// <summary><c>Scope (\NAME) { terms }</c> for a name in the root (<c>\_SB_</c>).</summary>
    public static byte[] RootScope(string name, params byte[][] terms) =>
        [ScopeOp, .. WithPkgLength([RootChar, .. NameSeg(name), .. terms.SelectMany(t => t)])];

    /// <summary><c>Device (NAME) { terms }</c>.</summary>
    public static byte[] Device(string name, params byte[][] terms) =>
        [ExtOpPrefix, DeviceOp, .. WithPkgLength([.. NameSeg(name), .. terms.SelectMany(t => t)])];

    /// <summary><c>Name (NAME, value)</c>.</summary>
    public static byte[] Name(string name, byte[] value) => [NameOp, .. NameSeg(name), .. value];

    /// <summary>An integer in its shortest encoding (Zero, One, Byte/Word/DWord/QWordConst).</summary>
    public static byte[] Integer(ulong value)
    {
        switch (value)
        {
            case 0: return [ZeroOp];
            case 1: return [OneOp];
            case <= 0xFF: return [BytePrefix, (byte)value];
            case <= 0xFFFF:
            {
                var b = new byte[3];
                b[0] = WordPrefix;
                BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(1), (ushort)value);
                return b;
            }

            case <= 0xFFFF_FFFF:
                return DWord((uint)value);
            default:
            {
                var b = new byte[9];
                b[0] = QWordPrefix;
                BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(1), value);
                return b;
            }
        }
    }

    /// <summary>A DWordConst, whatever the value (as ASL's <c>EisaId</c> and <c>_PRT</c> addresses are compiled).</summary>
    public static byte[] DWord(uint value)
    {
        var b = new byte[5];
        b[0] = DWordPrefix;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(1), value);
        return b;
    }

    /// <summary>ASL's <c>EisaId ("PNP0A03")</c>: the compressed EISA id as a DWordConst.</summary>
    public static byte[] EisaId(string id)
    {
        if (id.Length != 7)
        {
            throw new ArgumentException($"an EISA id has 7 characters: '{id}'", nameof(id));
        }

        uint vendor = ((uint)(id[0] - 0x40) << 10) | ((uint)(id[1] - 0x40) << 5) | (uint)(id[2] - 0x40);
        uint product = Convert.ToUInt32(id[3..], 16);
        // Stored big-endian: the vendor's two bytes, then the product's two bytes.
        uint value = (vendor >> 8) | ((vendor & 0xFF) << 8) | ((product >> 8) << 16) | ((product & 0xFF) << 24);
        return DWord(value);
    }

    /// <summary><c>Package () { elements }</c>.</summary>
    public static byte[] Package(params byte[][] elements)
    {
        if (elements.Length > 255)
        {
            throw new ArgumentException("a Package holds at most 255 elements (VarPackage is not used)", nameof(elements));
        }

        return [PackageOp, .. WithPkgLength([(byte)elements.Length, .. elements.SelectMany(e => e)])];
    }

    /// <summary><c>Buffer () { bytes }</c>.</summary>
    public static byte[] Buffer(byte[] bytes) => [BufferOp, .. WithPkgLength([.. Integer((ulong)bytes.Length), .. bytes])];

    /// <summary>A <c>ResourceTemplate</c>: the descriptors followed by the end tag (checksum 0: none), as a buffer.</summary>
    public static byte[] ResourceTemplate(params byte[][] descriptors) =>
        Buffer([.. descriptors.SelectMany(d => d), 0x79, 0x00]);

    /// <summary>The I/O port descriptor (6.4.2.5): <c>IO (Decode16, min, max, alignment, length)</c>.</summary>
    public static byte[] IoPort(ushort min, ushort max, byte alignment, byte length) =>
        [0x47, 0x01, (byte)min, (byte)(min >> 8), (byte)max, (byte)(max >> 8), alignment, length];

    /// <summary>The address space resource types of the address space descriptors (6.4.3.5).</summary>
    public enum AddressSpace : byte
    {
        /// <summary>Memory range.</summary>
        Memory = 0,

        /// <summary>I/O range.</summary>
        Io = 1,

        /// <summary>Bus number range.</summary>
        BusNumber = 2,
    }

    // General flags of a producer with a fixed minimum and maximum and positive decoding (6.4.3.5, table 6.44).
    private const byte ProducerMinMaxFixed = 0x0C;

    /// <summary>The word address space descriptor (6.4.3.5.3) of a producer: <c>WordBusNumber</c> or <c>WordIO</c> (entire range).</summary>
    public static byte[] WordAddress(AddressSpace space, ushort min, ushort max)
    {
        var d = new byte[16];
        d[0] = 0x88;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), 13);
        d[3] = (byte)space;
        d[4] = ProducerMinMaxFixed;
        d[5] = space == AddressSpace.Io ? (byte)3 : (byte)0; // I/O: ISA and non-ISA ranges (EntireRange)
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(8), min);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(10), max);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(14), (ushort)(max - min + 1));
        return d;
    }

    /// <summary>
    /// The DWord address space descriptor (6.4.3.5.2) of a read-write memory range a producer decodes
    /// (<c>DWordMemory</c>), cacheable or not.
    /// </summary>
    public static byte[] DWordMemory(uint min, uint max, bool cacheable)
    {
        var d = new byte[26];
        d[0] = 0x87;
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(1), 23);
        d[3] = (byte)AddressSpace.Memory;
        d[4] = ProducerMinMaxFixed;
        d[5] = (byte)(1 | (cacheable ? 2 : 0)); // read-write; MEM bits 2:1 = 1: cacheable
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(10), min);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(14), max);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(22), max - min + 1);
        return d;
    }

    /// <summary>A NameSeg: four characters, padded with '_'.</summary>
    private static byte[] NameSeg(string name)
    {
        if (name.Length is 0 or > 4)
        {
            throw new ArgumentException($"a NameSeg has 1 to 4 characters: '{name}'", nameof(name));
        }

        return [.. name.PadRight(4, '_').Select(c => (byte)c)];
    }

    /// <summary>Prefixes <paramref name="body"/> with its PkgLength (20.2.4), which counts itself.</summary>
    private static byte[] WithPkgLength(byte[] body)
    {
        int n = body.Length;
        if (n + 1 < 64)
        {
            return [(byte)(n + 1), .. body];
        }

        for (int extra = 1; extra <= 3; extra++)
        {
            int total = n + 1 + extra;
            if (total < 1 << (4 + (8 * extra)))
            {
                var lead = new byte[1 + extra];
                lead[0] = (byte)((extra << 6) | (total & 0xF));
                for (int i = 0; i < extra; i++)
                {
                    lead[1 + i] = (byte)(total >> (4 + (8 * i)));
                }

                return [.. lead, .. body];
            }
        }

        throw new ArgumentException("an AML package of more than 256 MiB", nameof(body));
    }
}

using System.Buffers.Binary;

namespace SoftKvm.Devices;

/// <summary>
/// Turns bus accesses of 1, 2, 4 or 8 bytes into 32-bit register accesses, as an APB slave does: a read
/// returns the bytes of the register word that hold the offset; a write of fewer than four bytes
/// reaches the register at the word holding it, zero-extended.
/// </summary>
internal static class RegisterAccess
{
    /// <summary>Stores the bytes of <paramref name="word"/> (the register at <c>offset &amp; ~3</c>) that the access covers.</summary>
    public static void StoreRead(ulong offset, uint word, Span<byte> data)
    {
        int shift = (int)(offset & 3) * 8;
        ulong value = word >> shift;
        if (data.Length == 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)value); // the usual access: no copy, no stack buffer
            return;
        }

        StoreOtherWidth(value, data);
    }

    private static void StoreOtherWidth(ulong value, Span<byte> data)
    {
        switch (data.Length)
        {
            case 8: BinaryPrimitives.WriteUInt64LittleEndian(data, value); break;
            default:
                Span<byte> tmp = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(tmp, value);
                int n = Math.Min(data.Length, 8);
                tmp[..n].CopyTo(data);
                if (data.Length > 8)
                {
                    data[8..].Clear();
                }

                break;
        }
    }

    /// <summary>The value written, little-endian, at most 32 bits, shifted to its byte lane in the register word.</summary>
    public static uint LoadWrite(ulong offset, ReadOnlySpan<byte> data)
    {
        Span<byte> tmp = stackalloc byte[8];
        tmp.Clear();
        data[..Math.Min(data.Length, 8)].CopyTo(tmp);
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(tmp);
        int shift = (int)(offset & 3) * 8;
        return (uint)(value << shift);
    }

    /// <summary>
    /// Whether an access is a 64-bit one at a word-aligned offset, which an APB device with 32-bit
    /// registers sees as two register accesses, low word first (as QEMU splits accesses wider than a
    /// device's maximum access size).
    /// </summary>
    public static bool IsSplit(ulong offset, int length) => length == 8 && (offset & 3) == 0;

    /// <summary>Stores two register words as the 8 bytes of a split read.</summary>
    public static void StoreSplitRead(uint low, uint high, Span<byte> data) =>
        BinaryPrimitives.WriteUInt64LittleEndian(data, ((ulong)high << 32) | low);

    /// <summary>The high word of a split write (the low word comes from <see cref="LoadWrite"/>).</summary>
    public static uint LoadSplitHigh(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);

    /// <summary>The little-endian value of a byte-wide port access (x86 devices), truncated to 8 bits.</summary>
    public static byte LoadByte(ReadOnlySpan<byte> data) => data.IsEmpty ? (byte)0 : data[0];

    /// <summary>Fills a port read: the byte, then zeros (a wider access reads the byte register zero-extended).</summary>
    public static void StoreByte(byte value, Span<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        data.Clear();
        data[0] = value;
    }
}

using System.Numerics;
using System.Runtime.InteropServices;

namespace SoftKvm.Core.Snapshots;

/// <summary>
/// The snapshot file format (docs/snapshots.md): the magic <c>SKVMSNAP</c>, a little-endian u32 format
/// version, then sections, each a 4-character tag, a u64 payload length, the payload and the payload's
/// CRC-32C. The first section is the header (<c>HEAD</c>), the last <c>END </c>; a file without it is
/// truncated. Everything is little-endian.
/// </summary>
public static class SnapshotFormat
{
    /// <summary>The file's first eight bytes.</summary>
    public static ReadOnlySpan<byte> Magic => "SKVMSNAP"u8;

    /// <summary>
    /// The format version this build writes and the only one it reads. Bump it whenever a section's layout
    /// changes (a saved CPU state struct included).
    /// </summary>
    public const uint Version = 2;

    /// <summary>The header section's tag.</summary>
    public const string HeaderTag = "HEAD";

    /// <summary>The closing section's tag.</summary>
    public const string EndTag = "END ";

    /// <summary>The longest payload a non-memory section may have (a sanity bound for corrupt lengths).</summary>
    public const long MaxSmallSection = 64L << 20;

    /// <summary>Extends CRC-32C (Castagnoli) <paramref name="crc"/> over <paramref name="data"/> (hardware CRC32 where the host has it).</summary>
    public static uint Crc32C(uint crc, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong w in words)
        {
            crc = BitOperations.Crc32C(crc, w);
        }

        foreach (byte b in data[(words.Length * 8)..])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    /// <summary>Whether <paramref name="tag"/> is four ASCII characters.</summary>
    internal static void CheckTag(string tag)
    {
        if (tag.Length != 4 || tag.Any(c => c is < ' ' or > '~'))
        {
            throw new ArgumentException($"a section tag is four printable ASCII characters, not '{tag}'", nameof(tag));
        }
    }
}

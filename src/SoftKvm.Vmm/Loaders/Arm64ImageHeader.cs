using System.Buffers.Binary;

namespace SoftKvm.Vmm.Loaders;

/// <summary>
/// The 64-byte header of an arm64 Linux <c>Image</c> (Linux Documentation/arch/arm64/booting.rst, "Call
/// the kernel image"): code0/code1, text_offset at 8, image_size at 16, flags at 24, and the magic
/// "ARM\x64" at 0x38. text_offset is meaningful only when image_size is non-zero (kernels since 3.17).
/// </summary>
/// <param name="TextOffset">The load offset from a 2 MiB-aligned base.</param>
/// <param name="ImageSize">The effective image size including bss; 0 on old kernels.</param>
/// <param name="Flags">Bit 0: big-endian kernel; bits 1-2: page size; bit 3: physical placement.</param>
public readonly record struct Arm64ImageHeader(ulong TextOffset, ulong ImageSize, ulong Flags)
{
    /// <summary>The magic, little-endian "ARM\x64".</summary>
    public const uint Magic = 0x644D5241;

    /// <summary>The offset of the magic.</summary>
    public const int MagicOffset = 0x38;

    /// <summary>Whether the kernel is big-endian (flags bit 0).</summary>
    public bool IsBigEndian => (Flags & 1) != 0;

    /// <summary>Reads the header when <paramref name="data"/> carries the magic.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out Arm64ImageHeader header)
    {
        header = default;
        if (data.Length < 64 || BinaryPrimitives.ReadUInt32LittleEndian(data[MagicOffset..]) != Magic)
        {
            return false;
        }

        header = new Arm64ImageHeader(
            BinaryPrimitives.ReadUInt64LittleEndian(data[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(data[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(data[24..]));
        return true;
    }
}

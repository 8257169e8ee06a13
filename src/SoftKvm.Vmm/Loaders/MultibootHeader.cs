using System.Buffers.Binary;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>
/// The Multiboot v1 header (Multiboot Specification 0.6.96, §3.1.1): magic 0x1BADB002, flags and a
/// checksum that makes the three sum to zero, 4-byte aligned within the first 8 KiB of the image; with
/// flag bit 16 the a.out kludge address fields follow.
/// </summary>
/// <param name="Offset">The file offset of the magic.</param>
/// <param name="Flags">The flags word.</param>
/// <param name="HeaderAddr">header_addr (a.out kludge only).</param>
/// <param name="LoadAddr">load_addr (a.out kludge only).</param>
/// <param name="LoadEndAddr">load_end_addr (a.out kludge only; 0 = to the end of the file).</param>
/// <param name="BssEndAddr">bss_end_addr (a.out kludge only; 0 = no bss).</param>
/// <param name="EntryAddr">entry_addr (a.out kludge only).</param>
public readonly record struct MultibootHeader(
    int Offset, uint Flags, uint HeaderAddr, uint LoadAddr, uint LoadEndAddr, uint BssEndAddr, uint EntryAddr)
{
    /// <summary>The header magic.</summary>
    public const uint Magic = 0x1BADB002;

    /// <summary>The value EAX holds at the kernel's entry.</summary>
    public const uint BootloaderMagic = 0x2BADB002;

    /// <summary>How far into the image the header may start.</summary>
    public const int SearchLength = 8192;

    /// <summary>Flag 0: modules page aligned.</summary>
    public const uint FlagPageAlign = 1u << 0;

    /// <summary>Flag 1: memory information wanted.</summary>
    public const uint FlagMemoryInfo = 1u << 1;

    /// <summary>Flag 2: a video mode wanted.</summary>
    public const uint FlagVideoMode = 1u << 2;

    /// <summary>Flag 16: the address fields are valid (the a.out kludge).</summary>
    public const uint FlagAoutKludge = 1u << 16;

    /// <summary>Whether the a.out kludge fields are used.</summary>
    public bool IsAoutKludge => (Flags & FlagAoutKludge) != 0;

    /// <summary>Finds the header in <paramref name="image"/>; <paramref name="name"/> appears in errors.</summary>
    /// <exception cref="BadImageException">no header, a bad checksum, an unsupported required flag, or a truncated header.</exception>
    public static MultibootHeader Find(string name, ReadOnlySpan<byte> image)
    {
        int limit = Math.Min(image.Length, SearchLength);
        int badChecksumAt = -1;
        for (int at = 0; at + 12 <= limit; at += 4)
        {
            if (U32(image, at) != Magic)
            {
                continue;
            }

            uint flags = U32(image, at + 4);
            if (unchecked(Magic + flags + U32(image, at + 8)) != 0)
            {
                badChecksumAt = badChecksumAt < 0 ? at : badChecksumAt;
                continue;
            }

            if ((flags & FlagVideoMode) != 0)
            {
                throw new BadImageException($"'{name}' asks for a video mode (Multiboot flag 2); softkvm has no framebuffer");
            }

            if ((flags & 0xFFF8u) != 0)
            {
                throw new BadImageException($"'{name}' requires unknown Multiboot features (flags 0x{flags:x8})");
            }

            if ((flags & FlagAoutKludge) == 0)
            {
                return new MultibootHeader(at, flags, 0, 0, 0, 0, 0);
            }

            if (at + 32 > image.Length)
            {
                throw new BadImageException($"'{name}' ends inside its Multiboot header");
            }

            return new MultibootHeader(at, flags, U32(image, at + 12), U32(image, at + 16), U32(image, at + 20), U32(image, at + 24), U32(image, at + 28));
        }

        throw new BadImageException(badChecksumAt >= 0
            ? $"'{name}' has a Multiboot header at offset 0x{badChecksumAt:x} with a bad checksum"
            : $"'{name}' has no Multiboot v1 header in its first 8 KiB");
    }

    private static uint U32(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d[at..]);
}

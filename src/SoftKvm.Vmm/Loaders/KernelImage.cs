using System.IO.Compression;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>How a kernel file is booted.</summary>
public enum KernelFormat
{
    /// <summary>An ELF executable: segments at their physical addresses, entered at e_entry.</summary>
    Elf,

    /// <summary>An arm64 Linux Image (header with the "ARM\x64" magic).</summary>
    Arm64Image,

    /// <summary>A raw binary without a header, booted like an Image without one.</summary>
    Raw,
}

/// <summary>
/// A kernel file as read for booting: gzip-compressed files are decompressed first (as QEMU does for
/// arm64 Images, up to 256 MiB), then recognised as ELF, arm64 Image or raw binary.
/// </summary>
public sealed class KernelImage
{
    /// <summary>The largest decompressed size accepted (QEMU's LOAD_IMAGE_MAX_GUNZIP_BYTES).</summary>
    public const int MaxDecompressedSize = 256 << 20;

    private KernelImage(string name, byte[] data, bool gzipped, KernelFormat format, Arm64ImageHeader? header, ElfImage? elf)
    {
        Name = name;
        Data = data;
        WasGzipped = gzipped;
        Format = format;
        Header = header;
        Elf = elf;
    }

    /// <summary>The file name, for messages.</summary>
    public string Name { get; }

    /// <summary>The (decompressed) bytes.</summary>
    public byte[] Data { get; }

    /// <summary>Whether the file was gzip-compressed.</summary>
    public bool WasGzipped { get; }

    /// <summary>The format recognised.</summary>
    public KernelFormat Format { get; }

    /// <summary>The Image header when <see cref="Format"/> is <see cref="KernelFormat.Arm64Image"/>.</summary>
    public Arm64ImageHeader? Header { get; }

    /// <summary>The ELF when <see cref="Format"/> is <see cref="KernelFormat.Elf"/>.</summary>
    public ElfImage? Elf { get; }

    /// <summary>Reads and recognises <paramref name="path"/> for a machine whose ELF machine number is <paramref name="elfMachine"/>.</summary>
    /// <exception cref="InputFileException">missing or unreadable.</exception>
    /// <exception cref="BadImageException">empty, corrupt gzip, an ELF for another machine, a big-endian Image.</exception>
    public static KernelImage Load(string path, ushort elfMachine) =>
        Parse(path, InputFiles.ReadAll(path, "kernel"), elfMachine);

    /// <summary>Recognises <paramref name="bytes"/> (see <see cref="Load"/>).</summary>
    /// <exception cref="BadImageException">empty, corrupt gzip, an ELF for another machine, a big-endian Image.</exception>
    public static KernelImage Parse(string name, byte[] bytes, ushort elfMachine)
    {
        if (bytes.Length == 0)
        {
            throw new BadImageException($"kernel '{name}' is empty, not a kernel image");
        }

        bool gzipped = bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B;
        byte[] data = gzipped ? Gunzip(name, bytes) : bytes;
        if (data.Length == 0)
        {
            throw new BadImageException($"kernel '{name}' is gzip-compressed but decompresses to nothing, not a kernel image");
        }

        if (ElfImage.HasMagic(data))
        {
            var elf = ElfImage.Parse(name, data);
            if (elf.Machine != elfMachine)
            {
                throw new BadImageException(
                    $"kernel '{name}' is an ELF for {ElfImage.MachineName(elf.Machine)}, not {ElfImage.MachineName(elfMachine)}");
            }

            return new KernelImage(name, data, gzipped, KernelFormat.Elf, null, elf);
        }

        if (Arm64ImageHeader.TryParse(data, out var header))
        {
            if (elfMachine != ElfImage.MachineAArch64)
            {
                throw new BadImageException($"kernel '{name}' is an arm64 Linux Image, not a {ElfImage.MachineName(elfMachine)} kernel");
            }

            if (header.IsBigEndian)
            {
                throw new BadImageException($"kernel '{name}' is a big-endian arm64 Image; only little-endian kernels are supported");
            }

            return new KernelImage(name, data, gzipped, KernelFormat.Arm64Image, header, null);
        }

        return new KernelImage(name, data, gzipped, KernelFormat.Raw, null, null);
    }

    private static byte[] Gunzip(string name, byte[] bytes)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = input.Read(buffer)) > 0)
            {
                if (output.Length + n > MaxDecompressedSize)
                {
                    throw new BadImageException($"kernel '{name}' decompresses to more than {MaxDecompressedSize >> 20} MiB");
                }

                output.Write(buffer, 0, n);
            }

            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new BadImageException($"kernel '{name}' is not a valid gzip file: {InputFiles.OneLine(e.Message)}");
        }
    }
}

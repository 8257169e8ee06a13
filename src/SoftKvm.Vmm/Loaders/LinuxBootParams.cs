using System.Buffers.Binary;

namespace SoftKvm.Vmm.Loaders;

/// <summary>
/// The x86 Linux zero page (<c>struct boot_params</c>, Documentation/arch/x86/zero-page.rst) a loader that
/// skips the real-mode setup fills (boot.rst, "32-bit Boot Protocol"): all zero, the image's setup
/// header copied in at 0x1F1, then type_of_loader, code32_start, the command line, the initrd and the
/// E820 memory map.
/// </summary>
public static class LinuxBootParams
{
    /// <summary>The size of the zero page.</summary>
    public const int Size = 4096;

    /// <summary>type_of_loader: 0xFF, a loader without an assigned id.</summary>
    public const byte TypeOfLoader = 0xFF;

    /// <summary>The most E820 entries the zero page holds (E820_MAX_ENTRIES_ZEROPAGE).</summary>
    public const int MaxE820Entries = 128;

    /// <summary>The zero page's own field offsets (outside the setup header).</summary>
    public static class Field
    {
        /// <summary>ext_ramdisk_image: bits 63:32 of ramdisk_image.</summary>
        public const int ExtRamdiskImage = 0x0C0;
        /// <summary>ext_ramdisk_size: bits 63:32 of ramdisk_size.</summary>
        public const int ExtRamdiskSize = 0x0C4;
        /// <summary>ext_cmd_line_ptr: bits 63:32 of cmd_line_ptr.</summary>
        public const int ExtCmdLinePtr = 0x0C8;
        /// <summary>e820_entries.</summary>
        public const int E820Entries = 0x1E8;
        /// <summary>e820_table: 20-byte entries (address, size, type).</summary>
        public const int E820Table = 0x2D0;
    }

    /// <summary>
    /// The zero page for <paramref name="kernel"/> loaded at <paramref name="loadAddress"/>, its command line
    /// at <paramref name="commandLineAddress"/>, the initrd (if <paramref name="initrdSize"/> is not 0) at
    /// <paramref name="initrdAddress"/> and the memory map <paramref name="e820"/>.
    /// </summary>
    /// <exception cref="ArgumentException">more than <see cref="MaxE820Entries"/> map entries.</exception>
    public static byte[] Build(
        BzImage kernel, ulong loadAddress, ulong commandLineAddress, ulong initrdAddress, ulong initrdSize, IReadOnlyList<MultibootMemoryRange> e820)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(e820);
        if (e820.Count > MaxE820Entries)
        {
            throw new ArgumentException($"{e820.Count} memory ranges do not fit the zero page's {MaxE820Entries}", nameof(e820));
        }

        var page = new byte[Size];
        var p = page.AsSpan();
        kernel.SetupHeaderBytes.CopyTo(p[LinuxSetupHeader.Offset..]);
        p[LinuxSetupHeader.Field.TypeOfLoader] = TypeOfLoader;
        Put32(p, LinuxSetupHeader.Field.Code32Start, (uint)loadAddress);
        Put32(p, LinuxSetupHeader.Field.CmdLinePtr, (uint)commandLineAddress);
        Put32(p, Field.ExtCmdLinePtr, (uint)(commandLineAddress >> 32));
        if (initrdSize != 0)
        {
            Put32(p, LinuxSetupHeader.Field.RamdiskImage, (uint)initrdAddress);
            Put32(p, Field.ExtRamdiskImage, (uint)(initrdAddress >> 32));
            Put32(p, LinuxSetupHeader.Field.RamdiskSize, (uint)initrdSize);
            Put32(p, Field.ExtRamdiskSize, (uint)(initrdSize >> 32));
        }

        BinaryPrimitives.WriteUInt64LittleEndian(p[LinuxSetupHeader.Field.SetupData..], 0);
        p[Field.E820Entries] = (byte)e820.Count;
        for (int i = 0; i < e820.Count; i++)
        {
            var e = p.Slice(Field.E820Table + (i * 20), 20);
            BinaryPrimitives.WriteUInt64LittleEndian(e, e820[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], e820[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], e820[i].Type);
        }

        return page;
    }

    private static void Put32(Span<byte> s, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], value);
}

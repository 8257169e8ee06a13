using System.Buffers.Binary;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>A piece of a Multiboot kernel in guest memory: file bytes, then zeroes up to <paramref name="MemorySize"/>.</summary>
/// <param name="Address">The guest-physical load address.</param>
/// <param name="FileOffset">Where the bytes start in the file.</param>
/// <param name="FileSize">How many bytes come from the file.</param>
/// <param name="MemorySize">How many bytes the piece occupies (at least <paramref name="FileSize"/>).</param>
public readonly record struct MultibootSegment(ulong Address, int FileOffset, int FileSize, ulong MemorySize);

/// <summary>
/// A Multiboot v1 kernel ready to load: an ELF32 executable (PT_LOAD segments at their physical addresses,
/// e_entry) or, with the a.out kludge, one range of the file at load_addr plus bss and entry_addr.
/// </summary>
public sealed class MultibootImage
{
    private MultibootImage(string name, byte[] data, MultibootHeader header, uint entry, IReadOnlyList<MultibootSegment> segments)
    {
        Name = name;
        Data = data;
        Header = header;
        Entry = entry;
        Segments = segments;
    }

    /// <summary>The file name, for messages.</summary>
    public string Name { get; }

    /// <summary>The whole file.</summary>
    public byte[] Data { get; }

    /// <summary>The Multiboot header.</summary>
    public MultibootHeader Header { get; }

    /// <summary>The entry point (physical; paging is off at entry).</summary>
    public uint Entry { get; }

    /// <summary>What to load where.</summary>
    public IReadOnlyList<MultibootSegment> Segments { get; }

    /// <summary>The lowest address the kernel occupies.</summary>
    public ulong LowAddress => Segments.Min(s => s.Address);

    /// <summary>One past the highest address the kernel occupies.</summary>
    public ulong HighAddress => Segments.Max(s => s.Address + s.MemorySize);

    /// <summary>Reads and parses the kernel file at <paramref name="path"/>.</summary>
    /// <exception cref="InputFileException">the file cannot be read.</exception>
    /// <exception cref="BadImageException">not a Multiboot v1 kernel this loader can place.</exception>
    public static MultibootImage Load(string path) => Parse(Path.GetFileName(path), InputFiles.ReadAll(path, "kernel"));

    /// <summary>Parses a Multiboot v1 kernel; <paramref name="name"/> appears in errors.</summary>
    /// <exception cref="BadImageException">not a Multiboot v1 kernel this loader can place.</exception>
    public static MultibootImage Parse(string name, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var header = MultibootHeader.Find(name, data);
        if (header.IsAoutKludge)
        {
            return ParseAout(name, data, header);
        }

        if (!ElfImage.HasMagic(data))
        {
            throw new BadImageException($"'{name}' is neither an ELF file nor a Multiboot a.out-kludge image (flag 16)");
        }

        var elf = ElfImage.Parse(name, data);
        if (elf.Is64Bit)
        {
            throw new BadImageException($"'{name}' is a 64-bit ELF; a Multiboot v1 loader needs ELF32 or the a.out kludge (flag 16)");
        }

        if (elf.Machine != ElfImage.MachineI386)
        {
            throw new BadImageException($"'{name}' is an ELF for {ElfImage.MachineName(elf.Machine)}, not i386");
        }

        var segments = new List<MultibootSegment>();
        foreach (var s in elf.Segments)
        {
            if (s.PhysicalAddress + s.MemorySize > 1UL << 32)
            {
                throw new BadImageException($"'{name}' has a segment at 0x{s.PhysicalAddress:x} beyond 4 GiB");
            }

            segments.Add(new MultibootSegment(s.PhysicalAddress, (int)s.FileOffset, (int)s.FileSize, s.MemorySize));
        }

        return new MultibootImage(name, data, header, PhysicalEntry(name, data, elf), segments);
    }

    // e_entry is virtual; paging is off at entry, so a higher-half kernel's entry is translated through the
    // PT_LOAD segment whose virtual range holds it (as QEMU's and GRUB's loaders do).
    private static uint PhysicalEntry(string name, ReadOnlySpan<byte> data, ElfImage elf)
    {
        uint entry = (uint)elf.Entry;
        if (elf.Segments.Any(s => entry >= s.PhysicalAddress && entry - s.PhysicalAddress < s.MemorySize))
        {
            return entry;
        }

        uint phoff = BinaryPrimitives.ReadUInt32LittleEndian(data[28..]);
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(data[42..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(data[44..]);
        for (int i = 0; i < phnum; i++)
        {
            var ph = data.Slice((int)phoff + (i * phentsize), phentsize);
            uint vaddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[8..]);
            uint paddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]);
            uint memsz = BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) == 1 && entry >= vaddr && entry - vaddr < memsz)
            {
                return entry - vaddr + paddr;
            }
        }

        throw new BadImageException($"'{name}' has its entry point 0x{entry:x} outside every loadable segment");
    }

    private static MultibootImage ParseAout(string name, byte[] data, MultibootHeader h)
    {
        if (h.HeaderAddr < h.LoadAddr || h.HeaderAddr - h.LoadAddr > (uint)h.Offset)
        {
            throw new BadImageException($"'{name}' Multiboot header_addr 0x{h.HeaderAddr:x} and load_addr 0x{h.LoadAddr:x} do not match the header's file offset 0x{h.Offset:x}");
        }

        long fileStart = h.Offset - (long)(h.HeaderAddr - h.LoadAddr);
        long length = h.LoadEndAddr == 0 ? data.Length - fileStart : (long)h.LoadEndAddr - h.LoadAddr;
        if (length <= 0 || fileStart + length > data.Length)
        {
            throw new BadImageException($"'{name}' Multiboot load_end_addr 0x{h.LoadEndAddr:x} lies beyond the end of the file or before load_addr");
        }

        ulong end = h.LoadAddr + (ulong)length;
        ulong memEnd = end;
        if (h.BssEndAddr != 0)
        {
            if (h.BssEndAddr < end)
            {
                throw new BadImageException($"'{name}' Multiboot bss_end_addr 0x{h.BssEndAddr:x} lies before the end of the loaded image 0x{end:x}");
            }

            memEnd = h.BssEndAddr;
        }

        if (h.EntryAddr < h.LoadAddr || h.EntryAddr >= end)
        {
            throw new BadImageException($"'{name}' Multiboot entry_addr 0x{h.EntryAddr:x} lies outside the loaded image");
        }

        var segment = new MultibootSegment(h.LoadAddr, (int)fileStart, (int)length, memEnd - h.LoadAddr);
        return new MultibootImage(name, data, h, h.EntryAddr, [segment]);
    }
}

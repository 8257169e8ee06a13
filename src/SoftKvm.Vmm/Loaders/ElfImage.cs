using System.Buffers.Binary;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>A loadable segment of an ELF file (PT_LOAD).</summary>
/// <param name="PhysicalAddress">p_paddr: where the segment goes in guest-physical memory.</param>
/// <param name="FileOffset">p_offset.</param>
/// <param name="FileSize">p_filesz: bytes copied from the file.</param>
/// <param name="MemorySize">p_memsz: bytes occupied in memory; the rest past FileSize is zeroed.</param>
public readonly record struct ElfSegment(ulong PhysicalAddress, ulong FileOffset, ulong FileSize, ulong MemorySize);

/// <summary>
/// A little-endian ELF32 or ELF64 executable (System V ABI, "ELF Header" and "Program Header"): its
/// machine, entry point and PT_LOAD segments, checked against the file's size.
/// </summary>
public sealed class ElfImage
{
    /// <summary>EM_386.</summary>
    public const ushort MachineI386 = 3;

    /// <summary>EM_ARM.</summary>
    public const ushort MachineArm = 40;

    /// <summary>EM_X86_64.</summary>
    public const ushort MachineX86_64 = 62;

    /// <summary>EM_AARCH64.</summary>
    public const ushort MachineAArch64 = 183;

    private const uint PtLoad = 1;

    private ElfImage(bool is64, ushort machine, ulong entry, IReadOnlyList<ElfSegment> segments)
    {
        Is64Bit = is64;
        Machine = machine;
        Entry = entry;
        Segments = segments;
    }

    /// <summary>ELFCLASS64 (else ELFCLASS32).</summary>
    public bool Is64Bit { get; }

    /// <summary>e_machine.</summary>
    public ushort Machine { get; }

    /// <summary>e_entry.</summary>
    public ulong Entry { get; }

    /// <summary>The PT_LOAD segments with a non-zero memory size, in file order.</summary>
    public IReadOnlyList<ElfSegment> Segments { get; }

    /// <summary>The lowest physical address any segment occupies.</summary>
    public ulong LowAddress => Segments.Min(s => s.PhysicalAddress);

    /// <summary>One past the highest physical address any segment occupies.</summary>
    public ulong HighAddress => Segments.Max(s => s.PhysicalAddress + s.MemorySize);

    /// <summary>Whether <paramref name="data"/> starts with the ELF magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> data) =>
        data.Length >= 4 && data[0] == 0x7F && data[1] == (byte)'E' && data[2] == (byte)'L' && data[3] == (byte)'F';

    /// <summary>The name of a machine number, for messages.</summary>
    public static string MachineName(ushort machine) => machine switch
    {
        MachineI386 => "i386",
        MachineArm => "32-bit Arm",
        MachineX86_64 => "x86-64",
        MachineAArch64 => "arm64",
        _ => $"machine {machine}",
    };

    /// <summary>Parses an ELF file; <paramref name="name"/> appears in errors.</summary>
    /// <exception cref="BadImageException">not a valid little-endian ELF executable with loadable segments.</exception>
    public static ElfImage Parse(string name, ReadOnlySpan<byte> data)
    {
        if (!HasMagic(data) || data.Length < 52)
        {
            throw new BadImageException($"'{name}' is not an ELF file");
        }

        byte cls = data[4];
        if (cls is not (1 or 2))
        {
            throw new BadImageException($"'{name}' has an unknown ELF class {cls}");
        }

        if (data[5] != 1)
        {
            throw new BadImageException($"'{name}' is a big-endian ELF; only little-endian images are supported");
        }

        bool is64 = cls == 2;
        if (is64 && data.Length < 64)
        {
            throw new BadImageException($"'{name}' is truncated inside its ELF header");
        }

        ushort type = U16(data, 16);
        if (type is not (2 or 3))
        {
            throw new BadImageException($"'{name}' is an ELF of type {type}, not an executable");
        }

        ushort machine = U16(data, 18);
        ulong entry = is64 ? U64(data, 24) : U32(data, 24);
        ulong phoff = is64 ? U64(data, 32) : U32(data, 28);
        int phentsize = U16(data, is64 ? 54 : 42);
        int phnum = U16(data, is64 ? 56 : 44);
        int minEntry = is64 ? 56 : 32;
        if (phnum == 0 || phentsize < minEntry || phoff > (ulong)data.Length || (ulong)phnum * (ulong)phentsize > (ulong)data.Length - phoff)
        {
            throw new BadImageException($"'{name}' has no valid ELF program headers");
        }

        var segments = new List<ElfSegment>();
        for (int i = 0; i < phnum; i++)
        {
            var ph = data.Slice((int)phoff + (i * phentsize), phentsize);
            if (U32(ph, 0) != PtLoad)
            {
                continue;
            }

            ElfSegment s = is64
                ? new(U64(ph, 24), U64(ph, 8), U64(ph, 32), U64(ph, 40))
                : new(U32(ph, 12), U32(ph, 4), U32(ph, 16), U32(ph, 20));
            if (s.FileSize > s.MemorySize)
            {
                throw new BadImageException($"'{name}' segment {i} has a file size larger than its memory size");
            }

            if (s.FileOffset > (ulong)data.Length || s.FileSize > (ulong)data.Length - s.FileOffset)
            {
                throw new BadImageException($"'{name}' segment {i} lies beyond the end of the file");
            }

            if (s.PhysicalAddress + s.MemorySize < s.PhysicalAddress)
            {
                throw new BadImageException($"'{name}' segment {i} wraps the address space");
            }

            if (s.MemorySize != 0)
            {
                segments.Add(s);
            }
        }

        if (segments.Count == 0)
        {
            throw new BadImageException($"'{name}' has no loadable (PT_LOAD) segments");
        }

        return new ElfImage(is64, machine, entry, segments);
    }

    private static ushort U16(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt16LittleEndian(d[at..]);

    private static uint U32(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d[at..]);

    private static ulong U64(ReadOnlySpan<byte> d, int at) => BinaryPrimitives.ReadUInt64LittleEndian(d[at..]);
}

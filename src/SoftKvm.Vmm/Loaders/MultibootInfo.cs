using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.X86;

namespace SoftKvm.Vmm.Loaders;

/// <summary>A Multiboot module as the information structure lists it.</summary>
/// <param name="Start">mod_start: its first byte in guest memory.</param>
/// <param name="End">mod_end: one past its last byte.</param>
/// <param name="CommandLine">Its string.</param>
public readonly record struct MultibootModule(uint Start, uint End, string CommandLine);

/// <summary>
/// Builds the Multiboot v1 information structure (Multiboot Specification 0.6.96, §3.3) and everything it
/// points to, as one blob placed at <see cref="PcMemoryMap.BootDataStart"/>: the structure itself
/// (flags MEMORY, CMDLINE, MODS when there are modules, MMAP, BOOT_LOADER_NAME), the memory map, the
/// module list and the strings.
/// </summary>
public static class MultibootInfo
{
    /// <summary>flags bit 0: mem_lower and mem_upper valid.</summary>
    public const uint FlagMemory = 1u << 0;

    /// <summary>flags bit 2: cmdline valid.</summary>
    public const uint FlagCmdline = 1u << 2;

    /// <summary>flags bit 3: mods_count and mods_addr valid.</summary>
    public const uint FlagMods = 1u << 3;

    /// <summary>flags bit 6: mmap_length and mmap_addr valid.</summary>
    public const uint FlagMmap = 1u << 6;

    /// <summary>flags bit 9: boot_loader_name valid.</summary>
    public const uint FlagBootLoaderName = 1u << 9;

    /// <summary>The boot loader name the guest sees.</summary>
    public const string BootLoaderName = "softkvm";

    /// <summary>The size of the information structure (up to and including the framebuffer fields).</summary>
    public const int StructureSize = 116;

    /// <summary>
    /// The blob to place at <paramref name="address"/> (the structure first, so EBX = <paramref name="address"/>).
    /// </summary>
    /// <exception cref="MemoryTooSmallException">the command line and modules do not fit the boot data area.</exception>
    public static byte[] Build(ulong address, ulong memorySize, string? commandLine, IReadOnlyList<MultibootModule> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        var ranges = PcMemoryMap.Ranges(memorySize);
        int mmapOffset = Align(StructureSize, 8);
        int mmapLength = ranges.Count * 24;
        int modsOffset = Align(mmapOffset + mmapLength, 16);
        int stringsOffset = modsOffset + (modules.Count * 16);

        var strings = new List<byte>();
        int AddString(string s)
        {
            int at = stringsOffset + strings.Count;
            strings.AddRange(Encoding.UTF8.GetBytes(s));
            strings.Add(0);
            return at;
        }

        int nameAt = AddString(BootLoaderName);
        int cmdlineAt = AddString(commandLine ?? string.Empty);
        var moduleStrings = new int[modules.Count];
        for (int i = 0; i < modules.Count; i++)
        {
            moduleStrings[i] = AddString(modules[i].CommandLine);
        }

        int total = stringsOffset + strings.Count;
        if ((ulong)total > PcMemoryMap.BootDataEnd - address)
        {
            throw new MemoryTooSmallException($"the Multiboot information ({total} bytes with the command line) does not fit below 0x{PcMemoryMap.BootDataEnd:x}");
        }

        var blob = new byte[total];
        var span = blob.AsSpan();
        uint At(int offset) => (uint)(address + (ulong)offset);

        uint flags = FlagMemory | FlagCmdline | FlagMmap | FlagBootLoaderName | (modules.Count > 0 ? FlagMods : 0);
        Put(span, 0, flags);
        Put(span, 4, (uint)(PcMemoryMap.ConventionalEnd / 1024));
        Put(span, 8, (uint)Math.Min((PcMemoryMap.LowRamSize(memorySize) - PcMemoryMap.ExtendedStart) / 1024, uint.MaxValue));
        Put(span, 16, At(cmdlineAt));
        Put(span, 20, (uint)modules.Count);
        Put(span, 24, modules.Count > 0 ? At(modsOffset) : 0);
        Put(span, 44, (uint)mmapLength);
        Put(span, 48, At(mmapOffset));
        Put(span, 64, At(nameAt));

        for (int i = 0; i < ranges.Count; i++)
        {
            var e = span[(mmapOffset + (i * 24))..];
            Put(e, 0, 20);
            BinaryPrimitives.WriteUInt64LittleEndian(e[4..], ranges[i].Base);
            BinaryPrimitives.WriteUInt64LittleEndian(e[12..], ranges[i].Length);
            Put(e, 20, ranges[i].Type);
        }

        for (int i = 0; i < modules.Count; i++)
        {
            var m = span[(modsOffset + (i * 16))..];
            Put(m, 0, modules[i].Start);
            Put(m, 4, modules[i].End);
            Put(m, 8, At(moduleStrings[i]));
        }

        strings.CopyTo(blob, stringsOffset);
        return blob;
    }

    private static int Align(int value, int to) => (value + to - 1) & ~(to - 1);

    private static void Put(Span<byte> s, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], value);
}

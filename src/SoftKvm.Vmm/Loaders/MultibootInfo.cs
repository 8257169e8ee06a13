using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>A Multiboot module as the information structure lists it.</summary>
/// <param name="Start">mod_start: its first byte in guest memory.</param>
/// <param name="End">mod_end: one past its last byte.</param>
/// <param name="CommandLine">Its string.</param>
public readonly record struct MultibootModule(uint Start, uint End, string CommandLine);

/// <summary>A range of the memory map as the information structure lists it (an E820 entry).</summary>
/// <param name="Base">The first address.</param>
/// <param name="Length">The length in bytes.</param>
/// <param name="Type">1 = available RAM, 2 = reserved.</param>
public readonly record struct MultibootMemoryRange(ulong Base, ulong Length, uint Type);

/// <summary>The machine's memory as the information structure describes it.</summary>
/// <param name="LowerKiB">mem_lower: KiB of RAM from 0 (at most 640).</param>
/// <param name="UpperKiB">mem_upper: KiB of RAM from 1 MiB up to the first hole.</param>
/// <param name="Map">The memory map (mmap_*).</param>
public sealed record MultibootMemory(uint LowerKiB, uint UpperKiB, IReadOnlyList<MultibootMemoryRange> Map);

/// <summary>
/// Builds the Multiboot v1 information structure (Multiboot Specification 0.6.96, §3.3) and everything it
/// points to, as one blob placed in the machine's boot data area: the structure itself
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
    /// The blob to place at <paramref name="address"/> (the structure first, so EBX = <paramref name="address"/>),
    /// which must end below <paramref name="limit"/>.
    /// </summary>
    /// <exception cref="MemoryTooSmallException">the command line and modules do not fit below <paramref name="limit"/>.</exception>
    public static byte[] Build(ulong address, ulong limit, MultibootMemory memory, string? commandLine, IReadOnlyList<MultibootModule> modules)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(modules);
        var ranges = memory.Map;
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
        if ((ulong)total > limit - address)
        {
            throw new MemoryTooSmallException($"the Multiboot information ({total} bytes with the command line) does not fit below 0x{limit:x}");
        }

        var blob = new byte[total];
        var span = blob.AsSpan();
        uint At(int offset) => (uint)(address + (ulong)offset);

        uint flags = FlagMemory | FlagCmdline | FlagMmap | FlagBootLoaderName | (modules.Count > 0 ? FlagMods : 0);
        Put(span, 0, flags);
        Put(span, 4, memory.LowerKiB);
        Put(span, 8, memory.UpperKiB);
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

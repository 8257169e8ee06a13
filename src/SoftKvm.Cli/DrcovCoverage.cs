using System.Collections.Concurrent;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Hooks;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;

namespace SoftKvm.Cli;

/// <summary>
/// <c>--coverage FILE</c>: every basic block the guest ran (a block hook, docs/hooks.md), written after the
/// run in DynamoRIO's drcov format (version 2), which coverage tools (Lighthouse, bncov, Cartographer)
/// read. A drcov block is an offset of 32 bits from its module's base, so the guest's address space is
/// described as one module per 4 GiB window that holds code it ran, named after the kernel file
/// (module id n covers [base, base + 4 GiB)); a bare-metal guest below 4 GiB has one module at 0.
/// </summary>
internal sealed class DrcovCoverage : IDisposable
{
    private readonly ConcurrentDictionary<(ulong Address, int Size), byte> _blocks = new();
    private readonly IDisposable _hook;
    private readonly string _path;
    private readonly string _moduleName;

    private DrcovCoverage(Vm vm, string path, string kernel)
    {
        _path = path;
        _moduleName = Path.GetFileName(kernel);
        _hook = vm.Hooks.AddBlockHook((_, address, size) => _blocks.TryAdd((address, size), 0));
    }

    /// <summary>Starts recording the blocks of <paramref name="vm"/>; the file is checked now, written by <see cref="Write"/>.</summary>
    public static DrcovCoverage Start(Vm vm, string path, string kernel)
    {
        try
        {
            File.WriteAllBytes(path, []);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigurationException($"--coverage '{path}' cannot be written: {InputFiles.OneLine(e.Message)}");
        }

        return new DrcovCoverage(vm, path, kernel);
    }

    /// <summary>The number of distinct blocks recorded.</summary>
    public int Count => _blocks.Count;

    /// <summary>Writes the drcov file.</summary>
    public void Write()
    {
        var blocks = _blocks.Keys.OrderBy(b => b.Address).ThenBy(b => b.Size).ToArray();
        var windows = blocks.Select(b => b.Address >> 32).Distinct().ToList();
        using var file = new FileStream(_path, FileMode.Create, FileAccess.Write);
        var header = new StringBuilder();
        header.Append("DRCOV VERSION: 2\nDRCOV FLAVOR: drcov\n");
        header.Append($"Module Table: version 2, count {windows.Count}\n");
        header.Append("Columns: id, base, end, entry, checksum, timestamp, path\n");
        for (int i = 0; i < windows.Count; i++)
        {
            ulong start = windows[i] << 32;
            ulong end = start + 0xFFFF_FFFFUL;
            header.Append($"{i,3}, 0x{start:x16}, 0x{end:x16}, 0x0000000000000000, 0x00000000, 0x00000000, {_moduleName}\n");
        }

        header.Append($"BB Table: {blocks.Length} bbs\n");
        file.Write(Encoding.ASCII.GetBytes(header.ToString()));
        Span<byte> entry = stackalloc byte[8];
        foreach (var (address, size) in blocks)
        {
            // struct { uint32 start; uint16 size; uint16 id; }, little-endian; start is the offset from the module's base.
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)address);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(entry[4..], (ushort)Math.Min(size, ushort.MaxValue));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(entry[6..], (ushort)windows.IndexOf(address >> 32));
            file.Write(entry);
        }
    }

    /// <summary>Removes the hook.</summary>
    public void Dispose() => _hook.Dispose();
}

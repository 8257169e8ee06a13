using System.Globalization;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Profiling;

/// <summary>
/// Guest addresses to function names, from a symbol table in <c>nm</c> format ("address type name" per
/// line: a kernel's System.map, or <c>nm guest.elf</c>). Only text symbols (type t/T/w/W) are kept; an
/// address belongs to the nearest symbol at or below it.
/// </summary>
public sealed class SymbolMap
{
    private readonly ulong[] _addresses;
    private readonly string[] _names;

    private SymbolMap(ulong[] addresses, string[] names)
    {
        _addresses = addresses;
        _names = names;
    }

    /// <summary>Text symbols read.</summary>
    public int Count => _addresses.Length;

    /// <summary>Reads <paramref name="path"/>; a file without a single text symbol is an <see cref="InputFileException"/>.</summary>
    public static SymbolMap Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new InputFileException($"symbol file '{path}' cannot be read: {e.Message}");
        }

        return Parse(lines) ?? throw new InputFileException($"symbol file '{path}' has no text symbols in nm format ('address T name' per line, as System.map)");
    }

    /// <summary>Parses nm-format lines; null when none is a text symbol.</summary>
    public static SymbolMap? Parse(IEnumerable<string> lines)
    {
        var symbols = new List<(ulong Address, string Name)>();
        foreach (string line in lines)
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 3 || parts[1].Length != 1 || "tTwW".IndexOf(parts[1][0]) < 0
                || !ulong.TryParse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong address))
            {
                continue;
            }

            symbols.Add((address, parts[2]));
        }

        if (symbols.Count == 0)
        {
            return null;
        }

        symbols.Sort((a, b) => a.Address.CompareTo(b.Address));
        return new SymbolMap([.. symbols.Select(s => s.Address)], [.. symbols.Select(s => s.Name)]);
    }

    /// <summary>The function containing <paramref name="address"/>, or null below the first symbol.</summary>
    public string? Lookup(ulong address)
    {
        int i = Array.BinarySearch(_addresses, address);
        if (i < 0)
        {
            i = ~i - 1;
        }

        return i < 0 ? null : _names[i];
    }
}

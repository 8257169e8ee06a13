using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Fdt;

/// <summary>
/// Builds a flattened device tree blob (Devicetree Specification v0.4, chapter 5 "Flattened Devicetree
/// (DTB) Format"): the 40-byte header (version 17, last compatible 16), the memory reservation map, the
/// structure block of FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE / FDT_END tokens, and the strings block
/// with each property name stored once. All values are big-endian. Nodes are written in call order;
/// inside a node, properties must come before subnodes (5.4.2).
/// </summary>
public sealed class FdtBuilder
{
    /// <summary>The header magic, 0xd00dfeed.</summary>
    public const uint Magic = 0xD00DFEED;

    /// <summary>The format version written.</summary>
    public const uint Version = 17;

    /// <summary>The oldest version this blob is compatible with.</summary>
    public const uint LastCompatibleVersion = 16;

    private const uint FdtBeginNode = 1;
    private const uint FdtEndNode = 2;
    private const uint FdtProp = 3;
    private const uint FdtEnd = 9;
    private const int HeaderSize = 40;

    private readonly MemoryStream _structure = new();
    private readonly MemoryStream _strings = new();
    private readonly Dictionary<string, int> _stringOffsets = new(StringComparer.Ordinal);
    private readonly List<(ulong Address, ulong Size)> _reservations = [];
    private readonly Stack<NodeFrame> _open = new();
    private uint _nextPhandle = 1;
    private bool _finished;

    /// <summary>The depth of open nodes (0 before the root is begun).</summary>
    public int Depth => _open.Count;

    /// <summary>Adds a memory reservation map entry (5.3).</summary>
    public void AddReservation(ulong address, ulong size)
    {
        EnsureOpen();
        if (size == 0)
        {
            throw new FdtException("a memory reservation needs a non-zero size");
        }

        _reservations.Add((address, size));
    }

    /// <summary>Hands out the next unused phandle value (1, 2, ...).</summary>
    public uint AllocatePhandle() => _nextPhandle++;

    /// <summary>Begins a node; the root is named "" and must be the only top-level node.</summary>
    /// <exception cref="FdtException">a second root, or a bad name.</exception>
    public void BeginNode(string name)
    {
        EnsureOpen();
        ArgumentNullException.ThrowIfNull(name);
        if (_open.Count == 0 && (name.Length != 0 || _structure.Length != 0))
        {
            throw new FdtException(name.Length != 0 ? $"the root node must be named \"\", not \"{name}\"" : "a device tree has one root node");
        }

        if (_open.Count > 0)
        {
            ValidateNodeName(name);
            _open.Peek().HasChildren = true;
        }

        WriteU32(_structure, FdtBeginNode);
        WriteString(_structure, name);
        _open.Push(new NodeFrame(name));
    }

    /// <summary>Ends the innermost open node.</summary>
    /// <exception cref="FdtException">no node is open.</exception>
    public void EndNode()
    {
        EnsureOpen();
        if (_open.Count == 0)
        {
            throw new FdtException("EndNode without an open node");
        }

        _open.Pop();
        WriteU32(_structure, FdtEndNode);
    }

    /// <summary>Adds a property with raw bytes.</summary>
    /// <exception cref="FdtException">no node is open, the node already has subnodes, or the name is bad.</exception>
    public void Property(string name, ReadOnlySpan<byte> value)
    {
        EnsureOpen();
        if (_open.Count == 0)
        {
            throw new FdtException($"property '{name}' outside any node");
        }

        var node = _open.Peek();
        if (node.HasChildren)
        {
            throw new FdtException($"property '{name}' after a subnode of '{node.Name}' (properties come first)");
        }

        ValidatePropertyName(name);
        if (!node.Properties.Add(name))
        {
            throw new FdtException($"property '{name}' appears twice in node '{node.Name}'");
        }

        WriteU32(_structure, FdtProp);
        WriteU32(_structure, (uint)value.Length);
        WriteU32(_structure, (uint)StringOffset(name));
        _structure.Write(value);
        Pad(_structure);
    }

    /// <summary>Adds an empty (boolean) property such as <c>interrupt-controller</c>.</summary>
    public void PropertyEmpty(string name) => Property(name, []);

    /// <summary>Adds a one-cell property.</summary>
    public void PropertyU32(string name, uint value) => PropertyCells(name, value);

    /// <summary>Adds a 64-bit property (two cells, high first).</summary>
    public void PropertyU64(string name, ulong value) => PropertyCells(name, (uint)(value >> 32), (uint)value);

    /// <summary>Adds a property of 32-bit cells.</summary>
    public void PropertyCells(string name, params ReadOnlySpan<uint> cells)
    {
        Span<byte> bytes = cells.Length <= 64 ? stackalloc byte[cells.Length * 4] : new byte[cells.Length * 4];
        for (int i = 0; i < cells.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes[(i * 4)..], cells[i]);
        }

        Property(name, bytes);
    }

    /// <summary>Adds a <c>reg</c>-style property of (address, size) pairs with two cells each.</summary>
    public void PropertyRegs(string name, params ReadOnlySpan<(ulong Address, ulong Size)> regions)
    {
        var cells = new uint[regions.Length * 4];
        for (int i = 0; i < regions.Length; i++)
        {
            cells[(i * 4) + 0] = (uint)(regions[i].Address >> 32);
            cells[(i * 4) + 1] = (uint)regions[i].Address;
            cells[(i * 4) + 2] = (uint)(regions[i].Size >> 32);
            cells[(i * 4) + 3] = (uint)regions[i].Size;
        }

        PropertyCells(name, cells);
    }

    /// <summary>Adds a string property (NUL-terminated).</summary>
    public void PropertyString(string name, string value) => PropertyStrings(name, value);

    /// <summary>Adds a string-list property (each NUL-terminated), such as <c>compatible</c>.</summary>
    public void PropertyStrings(string name, params ReadOnlySpan<string> values)
    {
        using var buffer = new MemoryStream();
        foreach (var v in values)
        {
            if (v.Contains('\0'))
            {
                throw new FdtException($"property '{name}' has a string with a NUL character");
            }

            buffer.Write(Encoding.UTF8.GetBytes(v));
            buffer.WriteByte(0);
        }

        Property(name, buffer.ToArray());
    }

    /// <summary>Ends the tree and returns the blob; <paramref name="bootCpuIdPhys"/> is the header's boot_cpuid_phys.</summary>
    /// <exception cref="FdtException">a node is still open or no root was written.</exception>
    public byte[] Finish(uint bootCpuIdPhys = 0)
    {
        EnsureOpen();
        if (_open.Count != 0)
        {
            throw new FdtException($"node '{_open.Peek().Name}' is still open");
        }

        if (_structure.Length == 0)
        {
            throw new FdtException("the device tree has no root node");
        }

        WriteU32(_structure, FdtEnd);
        _finished = true;

        int reserveOffset = HeaderSize;                                     // 8-byte aligned (5.3)
        int reserveSize = (_reservations.Count + 1) * 16;
        int structOffset = reserveOffset + reserveSize;                     // 4-byte aligned
        int structSize = (int)_structure.Length;
        int stringsOffset = structOffset + structSize;
        int stringsSize = (int)_strings.Length;
        int total = stringsOffset + stringsSize;

        var blob = new byte[total];
        var h = blob.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(h[0..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(h[4..], (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(h[8..], (uint)structOffset);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], (uint)stringsOffset);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], (uint)reserveOffset);
        BinaryPrimitives.WriteUInt32BigEndian(h[20..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(h[24..], LastCompatibleVersion);
        BinaryPrimitives.WriteUInt32BigEndian(h[28..], bootCpuIdPhys);
        BinaryPrimitives.WriteUInt32BigEndian(h[32..], (uint)stringsSize);
        BinaryPrimitives.WriteUInt32BigEndian(h[36..], (uint)structSize);
        for (int i = 0; i < _reservations.Count; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(h[(reserveOffset + (i * 16))..], _reservations[i].Address);
            BinaryPrimitives.WriteUInt64BigEndian(h[(reserveOffset + (i * 16) + 8)..], _reservations[i].Size);
        }

        _structure.ToArray().CopyTo(blob, structOffset);
        _strings.ToArray().CopyTo(blob, stringsOffset);
        return blob;
    }

    // Node names: 1-31 characters of [0-9a-zA-Z,._+-], then an optional @unit-address (2.2.1).
    private static void ValidateNodeName(string name)
    {
        int at = name.IndexOf('@');
        string nodeName = at < 0 ? name : name[..at];
        if (nodeName.Length is < 1 or > 31 || !nodeName.All(c => char.IsAsciiLetterOrDigit(c) || ",._+-".Contains(c)))
        {
            throw new FdtException($"bad node name '{name}'");
        }

        if (at >= 0 && (at == name.Length - 1 || !name[(at + 1)..].All(c => char.IsAsciiLetterOrDigit(c) || ",._+-".Contains(c))))
        {
            throw new FdtException($"bad unit address in node name '{name}'");
        }
    }

    // Property names: 1-31 characters of [0-9a-zA-Z,._+?#-] (2.2.4).
    private static void ValidatePropertyName(string name)
    {
        if (name.Length is < 1 or > 31 || !name.All(c => char.IsAsciiLetterOrDigit(c) || ",._+?#-".Contains(c)))
        {
            throw new FdtException($"bad property name '{name}'");
        }
    }

    private void EnsureOpen()
    {
        if (_finished)
        {
            throw new FdtException("the device tree is already finished");
        }
    }

    private int StringOffset(string name)
    {
        if (!_stringOffsets.TryGetValue(name, out int offset))
        {
            offset = (int)_strings.Length;
            WriteString(_strings, name, pad: false);
            _stringOffsets[name] = offset;
        }

        return offset;
    }

    private static void WriteU32(Stream s, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        s.Write(b);
    }

    private static void WriteString(Stream s, string value, bool pad = true)
    {
        s.Write(Encoding.UTF8.GetBytes(value));
        s.WriteByte(0);
        if (pad)
        {
            Pad(s);
        }
    }

    private static void Pad(Stream s)
    {
        while (s.Length % 4 != 0)
        {
            s.WriteByte(0);
        }
    }

    private sealed class NodeFrame(string name)
    {
        public string Name { get; } = name;

        public HashSet<string> Properties { get; } = new(StringComparer.Ordinal);

        public bool HasChildren { get; set; }
    }
}

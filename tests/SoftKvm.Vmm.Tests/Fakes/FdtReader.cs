using System.Buffers.Binary;
using System.Text;

namespace SoftKvm.Vmm.Tests.Fakes;

/// <summary>A minimal DTB parser for tests: nodes by path, properties as bytes.</summary>
internal sealed class FdtReader
{
    public FdtReader(byte[] blob)
    {
        var s = blob.AsSpan();
        Magic = BinaryPrimitives.ReadUInt32BigEndian(s);
        TotalSize = BinaryPrimitives.ReadUInt32BigEndian(s[4..]);
        uint structOff = BinaryPrimitives.ReadUInt32BigEndian(s[8..]);
        uint stringsOff = BinaryPrimitives.ReadUInt32BigEndian(s[12..]);
        uint rsvOff = BinaryPrimitives.ReadUInt32BigEndian(s[16..]);
        Version = BinaryPrimitives.ReadUInt32BigEndian(s[20..]);
        for (int at = (int)rsvOff; ; at += 16)
        {
            ulong a = BinaryPrimitives.ReadUInt64BigEndian(s[at..]);
            ulong z = BinaryPrimitives.ReadUInt64BigEndian(s[(at + 8)..]);
            if (a == 0 && z == 0)
            {
                break;
            }

            Reservations.Add((a, z));
        }

        var path = new Stack<string>();
        int p = (int)structOff;
        while (true)
        {
            uint token = BinaryPrimitives.ReadUInt32BigEndian(s[p..]);
            p += 4;
            if (token == 1)
            {
                int end = s[p..].IndexOf((byte)0);
                string name = Encoding.UTF8.GetString(s.Slice(p, end));
                p = Align(p + end + 1);
                string parent = path.Count == 0 ? "" : path.Peek();
                string full = path.Count == 0 ? "/" : (parent == "/" ? "/" + name : parent + "/" + name);
                path.Push(full);
                Nodes[full] = new Dictionary<string, byte[]>();
                NodeOrder.Add(full);
            }
            else if (token == 2)
            {
                path.Pop();
            }
            else if (token == 3)
            {
                int len = (int)BinaryPrimitives.ReadUInt32BigEndian(s[p..]);
                int nameOff = (int)BinaryPrimitives.ReadUInt32BigEndian(s[(p + 4)..]);
                var nameSpan = s[((int)stringsOff + nameOff)..];
                string name = Encoding.UTF8.GetString(nameSpan[..nameSpan.IndexOf((byte)0)]);
                Nodes[path.Peek()][name] = s.Slice(p + 8, len).ToArray();
                p = Align(p + 8 + len);
            }
            else if (token == 9)
            {
                break;
            }
            else if (token != 4)
            {
                throw new InvalidDataException($"bad token {token}");
            }
        }
    }

    public uint Magic { get; }

    public uint TotalSize { get; }

    public uint Version { get; }

    public List<(ulong Address, ulong Size)> Reservations { get; } = [];

    public Dictionary<string, Dictionary<string, byte[]>> Nodes { get; } = [];

    public List<string> NodeOrder { get; } = [];

    public byte[] Prop(string node, string name) => Nodes[node][name];

    public uint[] Cells(string node, string name)
    {
        var b = Prop(node, name);
        var cells = new uint[b.Length / 4];
        for (int i = 0; i < cells.Length; i++)
        {
            cells[i] = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(i * 4));
        }

        return cells;
    }

    public string[] Strings(string node, string name) =>
        Encoding.UTF8.GetString(Prop(node, name)).TrimEnd('\0').Split('\0');

    private static int Align(int p) => (p + 3) & ~3;
}

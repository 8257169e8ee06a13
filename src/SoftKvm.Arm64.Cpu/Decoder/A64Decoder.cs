namespace SoftKvm.Arm64.Cpu.Decoder;

/// <summary>
/// Looks an instruction word up in <see cref="A64DecodeTable"/>. Built once: for each of the 4096
/// values of bits [31:20], the rows that can match, in table order; a lookup scans only those
/// (usually one to three rows). Returns an enum, allocates nothing.
/// </summary>
internal static class A64Decoder
{
    private static readonly uint[] s_masks;
    private static readonly uint[] s_values;
    private static readonly A64Op[] s_ops;
    private static readonly ushort[][] s_buckets;

    static A64Decoder()
    {
        var rows = A64DecodeTable.Rows;
        s_masks = new uint[rows.Length];
        s_values = new uint[rows.Length];
        s_ops = new A64Op[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            (s_masks[i], s_values[i]) = Parse(rows[i].Pattern);
            s_ops[i] = rows[i].Op;
        }

        s_buckets = new ushort[4096][];
        var list = new List<ushort>();
        for (uint key = 0; key < 4096; key++)
        {
            list.Clear();
            uint top = key << 20;
            for (int i = 0; i < rows.Length; i++)
            {
                uint m = s_masks[i] & 0xFFF0_0000;
                if ((top & m) == (s_values[i] & m))
                {
                    list.Add((ushort)i);
                }
            }

            s_buckets[key] = [.. list];
        }
    }

    /// <summary>The number of rows.</summary>
    public static int RowCount => s_ops.Length;

    /// <summary>Decodes one instruction word.</summary>
    public static A64Op Decode(uint insn)
    {
        var bucket = s_buckets[insn >> 20];
        for (int i = 0; i < bucket.Length; i++)
        {
            int r = bucket[i];
            if ((insn & s_masks[r]) == s_values[r])
            {
                return s_ops[r];
            }
        }

        return A64Op.Undefined;
    }

    /// <summary>The index of the first row that matches, or -1 (for the table-order test).</summary>
    public static int MatchingRow(uint insn)
    {
        var bucket = s_buckets[insn >> 20];
        for (int i = 0; i < bucket.Length; i++)
        {
            int r = bucket[i];
            if ((insn & s_masks[r]) == s_values[r])
            {
                return r;
            }
        }

        return -1;
    }

    /// <summary>The mask and value of row <paramref name="row"/>.</summary>
    public static (uint Mask, uint Value) RowEncoding(int row) => (s_masks[row], s_values[row]);

    /// <summary>Turns a 32-character pattern of '0', '1', 'x' into a mask and value.</summary>
    public static (uint Mask, uint Value) Parse(string pattern)
    {
        if (pattern.Length != 32)
        {
            throw new InvalidOperationException($"A64 decode pattern '{pattern}' is not 32 characters long");
        }

        uint mask = 0, value = 0;
        for (int i = 0; i < 32; i++)
        {
            uint bit = 1u << (31 - i);
            switch (pattern[i])
            {
                case '0':
                    mask |= bit;
                    break;
                case '1':
                    mask |= bit;
                    value |= bit;
                    break;
                case 'x':
                    break;
                default:
                    throw new InvalidOperationException($"A64 decode pattern '{pattern}' has a bad character '{pattern[i]}'");
            }
        }

        return (mask, value);
    }
}

using System.Text;

namespace SoftKvm.Vmm.Gdb;

/// <summary>The hex encodings of the remote serial protocol (register and memory contents, addresses).</summary>
internal static class Hex
{
    public static bool TryNibble(char c, out int value)
    {
        value = c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'f' => c - 'a' + 10,
            >= 'A' and <= 'F' => c - 'A' + 10,
            _ => -1,
        };
        return value >= 0;
    }

    /// <summary>A big-endian hex number (addresses, lengths, register numbers); false when empty, malformed or over 64 bits.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 16)
        {
            return false;
        }

        foreach (char c in s)
        {
            if (!TryNibble(c, out int n))
            {
                return false;
            }

            value = (value << 4) | (uint)n;
        }

        return true;
    }

    /// <summary>Bytes from pairs of hex digits; false when malformed.</summary>
    public static bool TryDecode(ReadOnlySpan<char> s, Span<byte> destination)
    {
        if (s.Length != destination.Length * 2)
        {
            return false;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            if (!TryNibble(s[2 * i], out int hi) || !TryNibble(s[(2 * i) + 1], out int lo))
            {
                return false;
            }

            destination[i] = (byte)((hi << 4) | lo);
        }

        return true;
    }

    public static string Encode(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(data);

    /// <summary>The ASCII text of a hex string (qRcmd's command).</summary>
    public static string? DecodeText(ReadOnlySpan<char> s)
    {
        if (s.Length % 2 != 0)
        {
            return null;
        }

        var bytes = new byte[s.Length / 2];
        return TryDecode(s, bytes) ? Encoding.ASCII.GetString(bytes) : null;
    }

    public static string EncodeText(string text) => Encode(Encoding.ASCII.GetBytes(text));
}

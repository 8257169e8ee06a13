using System.Globalization;
using SoftKvm.Vmm.Errors;

namespace SoftKvm.Cli;

/// <summary>Parses <c>--memory</c> sizes as QEMU's <c>-m</c> does: a number with a K, M, G or T suffix; a bare number means MiB.</summary>
internal static class SizeParser
{
    /// <summary>The size in bytes.</summary>
    /// <exception cref="ConfigurationException">not a size, zero, or too large.</exception>
    public static ulong Parse(string text)
    {
        string t = text.Trim();
        if (t.EndsWith("iB", StringComparison.OrdinalIgnoreCase))
        {
            t = t[..^2];
        }
        else if (t.EndsWith('B') || t.EndsWith('b'))
        {
            t = t[..^1];
        }

        int shift = 20;
        if (t.Length > 0 && char.IsAsciiLetter(t[^1]))
        {
            shift = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => -1,
            };
            t = t[..^1];
        }

        if (shift < 0 || t.Length == 0 || !ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
        {
            throw new ConfigurationException($"invalid --memory '{text}': expected a size such as 512M, 2G or 65536K");
        }

        if (value == 0 || value > (ulong.MaxValue >> shift))
        {
            throw new ConfigurationException($"invalid --memory '{text}': the size must be above 0 and below 16 EiB");
        }

        return value << shift;
    }
}

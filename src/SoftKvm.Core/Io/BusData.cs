namespace SoftKvm.Core.Io;

/// <summary>Access data as the bus carries it: up to 8 bytes, little-endian.</summary>
internal static class BusData
{
    /// <summary>The first (at most 8) bytes of <paramref name="data"/> as a little-endian integer, zero-extended.</summary>
    public static ulong ToUInt64(ReadOnlySpan<byte> data)
    {
        ulong value = 0;
        for (int i = Math.Min(data.Length, 8) - 1; i >= 0; i--)
        {
            value = (value << 8) | data[i];
        }

        return value;
    }
}

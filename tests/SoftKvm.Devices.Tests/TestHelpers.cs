using System.Buffers.Binary;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.Tests;

internal sealed class FakeIrqLine : IIrqLine
{
    public bool Level { get; private set; }

    public int Raises { get; private set; }

    public void Set(bool level)
    {
        if (level && !Level)
        {
            Raises++;
        }

        Level = level;
    }
}

internal static class Io
{
    public static uint Read32(IIoDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        d.Read(null, offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public static void Write32(IIoDevice d, ulong offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        d.Write(null, offset, b);
    }

    public static byte Read8(IIoDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        d.Read(null, offset, b);
        return b[0];
    }

    public static void Write8(IIoDevice d, ulong offset, byte value)
    {
        ReadOnlySpan<byte> b = [value];
        d.Write(null, offset, b);
    }
}

internal sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now;

    public ManualTime(DateTimeOffset now) => _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

using System.Buffers.Binary;
using System.IO.Compression;

namespace SoftKvm.Vmm.Tests.Fakes;

/// <summary>Builds small kernel images for loader tests.</summary>
internal static class Images
{
    public static byte[] Arm64Image(ulong textOffset, ulong imageSize, int fileSize = 4096, ulong flags = 0)
    {
        var b = new byte[fileSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 0x14000010); // b #0x40
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), textOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), imageSize);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0x38), 0x644D5241);
        return b;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(data);
        }

        return ms.ToArray();
    }

    /// <summary>An ELF64 executable with one PT_LOAD of <paramref name="code"/> at <paramref name="paddr"/> plus <paramref name="bss"/> zero bytes.</summary>
    public static byte[] Elf64(ushort machine, ulong entry, ulong paddr, byte[] code, ulong bss = 0)
    {
        const int eh = 64, ph = 56;
        var b = new byte[eh + ph + code.Length];
        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 2; b[5] = 1; b[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(16), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(18), machine);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), entry);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(32), eh);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(52), eh);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(54), ph);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(56), 1);
        var p = b.AsSpan(eh);
        BinaryPrimitives.WriteUInt32LittleEndian(p, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], 5);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], eh + ph);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], paddr);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], paddr);
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], (ulong)code.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(p[40..], (ulong)code.Length + bss);
        code.CopyTo(b, eh + ph);
        return b;
    }

    /// <summary>An ELF32 executable with one PT_LOAD.</summary>
    public static byte[] Elf32(ushort machine, uint entry, uint paddr, byte[] code, uint bss = 0)
    {
        const int eh = 52, ph = 32;
        var b = new byte[eh + ph + code.Length];
        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 1; b[5] = 1; b[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(16), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(18), machine);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), entry);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), eh);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(40), eh);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(42), ph);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(44), 1);
        var p = b.AsSpan(eh);
        BinaryPrimitives.WriteUInt32LittleEndian(p, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], eh + ph);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], paddr);
        BinaryPrimitives.WriteUInt32LittleEndian(p[12..], paddr);
        BinaryPrimitives.WriteUInt32LittleEndian(p[16..], (uint)code.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(p[20..], (uint)code.Length + bss);
        code.CopyTo(b, eh + ph);
        return b;
    }
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace SoftKvm.Vmm.Tests.X86;

/// <summary>Builds small Multiboot kernels and finds the committed x86 guests.</summary>
internal static class MultibootImages
{
    public static string Guest(string name, [CallerFilePath] string source = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(source)!);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "guests", "x86")))
        {
            dir = dir.Parent;
        }

        return dir is null ? throw new DirectoryNotFoundException("guests/x86 not found") : Path.Combine(dir.FullName, "guests", "x86", name);
    }

    public static void Header(Span<byte> at, uint flags, uint? checksum = null)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(at, 0x1BADB002);
        BinaryPrimitives.WriteUInt32LittleEndian(at[4..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(at[8..], checksum ?? unchecked(0u - (0x1BADB002 + flags)));
    }

    /// <summary>An a.out-kludge image: header at <paramref name="headerOffset"/>, loaded at 1 MiB.</summary>
    public static byte[] Aout(int size = 0x1800, int headerOffset = 0x40, uint loadEnd = 0x10_1000, uint bssEnd = 0x10_3000, uint entry = 0x10_0080)
    {
        var b = new byte[size];
        Header(b.AsSpan(headerOffset), 0x0001_0003);
        Put(b, headerOffset + 12, 0x10_0000 + (uint)headerOffset); // header_addr
        Put(b, headerOffset + 16, 0x10_0000); // load_addr
        Put(b, headerOffset + 20, loadEnd);
        Put(b, headerOffset + 24, bssEnd);
        Put(b, headerOffset + 28, entry);
        b[0x80] = 0xF4; // hlt
        return b;
    }

    /// <summary>A minimal ELF64 (one PT_LOAD at 1 MiB) carrying a valid Multiboot header without the a.out kludge.</summary>
    public static byte[] Elf64WithHeader()
    {
        var b = new byte[0x200];
        b[0] = 0x7F;
        b[1] = (byte)'E';
        b[2] = (byte)'L';
        b[3] = (byte)'F';
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(16), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(18), 62);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(24), 0x10_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(32), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(54), 56);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(56), 1);
        var ph = b.AsSpan(64);
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], 0x10_0000);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], 0x200);
        BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], 0x200);
        Header(b.AsSpan(0x100), 0);
        return b;
    }

    /// <summary>A minimal ELF32 i386 kernel: one PT_LOAD with p_vaddr <paramref name="vaddr"/>, p_paddr 1 MiB, entry <paramref name="entry"/>.</summary>
    public static byte[] Elf32(uint vaddr, uint entry)
    {
        var b = new byte[0x200];
        b[0] = 0x7F;
        b[1] = (byte)'E';
        b[2] = (byte)'L';
        b[3] = (byte)'F';
        b[4] = 1;
        b[5] = 1;
        b[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(16), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(18), 3);
        Put(b, 24, entry);
        Put(b, 28, 52);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(42), 32);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(44), 1);
        Put(b, 52, 1);
        Put(b, 52 + 4, 0);
        Put(b, 52 + 8, vaddr);
        Put(b, 52 + 12, 0x10_0000);
        Put(b, 52 + 16, 0x200);
        Put(b, 52 + 20, 0x1000);
        Header(b.AsSpan(0x100), 0);
        return b;
    }

    private static void Put(byte[] b, int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), value);
}

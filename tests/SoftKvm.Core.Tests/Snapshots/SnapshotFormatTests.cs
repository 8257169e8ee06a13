using SoftKvm.Core.Memory;
using SoftKvm.Core.Snapshots;

namespace SoftKvm.Core.Tests.Snapshots;

/// <summary>The snapshot file format: sections with checksums, refusal of foreign, corrupt and truncated files, guest memory with zero pages skipped.</summary>
public sealed class SnapshotFormatTests
{
    [Fact]
    public void SectionsRoundTripInOrder()
    {
        var stream = new MemoryStream();
        var writer = new SnapshotWriter(stream);
        var w = writer.BeginSection("ONE ");
        w.Write(42UL);
        w.Write("text");
        writer.EndSection();
        writer.BeginLargeSection("BIG ", 6);
        writer.WriteLarge([1, 2, 3]);
        writer.WriteLarge([4, 5, 6]);
        writer.EndLargeSection();
        writer.Finish();
        Assert.Equal(stream.Length, writer.BytesWritten);

        stream.Position = 0;
        var reader = new SnapshotReader(stream, "test.snap");
        using (var r = reader.ReadSection("ONE "))
        {
            Assert.Equal(42UL, r.ReadUInt64());
            Assert.Equal("text", r.ReadString());
        }

        Assert.Equal(6, reader.BeginLargeSection("BIG "));
        byte[] big = new byte[6];
        reader.ReadLarge(big);
        reader.EndLargeSection();
        Assert.Equal([1, 2, 3, 4, 5, 6], big);
        reader.ReadEnd();
    }

    [Fact]
    public void EveryFlippedByteIsRefused()
    {
        byte[] file = Sample();
        for (int i = 0; i < file.Length; i++)
        {
            byte[] bad = (byte[])file.Clone();
            bad[i] ^= 0x10;
            Assert.Throws<SnapshotFormatException>(() => ReadSample(bad));
        }
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        byte[] file = Sample();
        for (int n = 0; n < file.Length; n++)
        {
            var e = Assert.Throws<SnapshotFormatException>(() => ReadSample(file[..n]));
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void AnotherSectionThanExpectedIsRefused()
    {
        var reader = new SnapshotReader(new MemoryStream(Sample()), "x.snap");
        var e = Assert.Throws<SnapshotFormatException>(() => reader.ReadSection("NOPE"));
        Assert.Equal("x.snap is corrupt: section 'ONE ' where 'NOPE' was expected", e.Message);
    }

    [Fact]
    public void ReadingPastASectionsEndIsACorruptFile()
    {
        var reader = new SnapshotReader(new MemoryStream(Sample()), "x.snap");
        using var r = reader.ReadSection("ONE ");
        r.ReadUInt32();
        Assert.Throws<SnapshotFormatException>(() => r.ReadUInt64());
    }

    [Fact]
    public unsafe void GuestMemoryRoundTripsAndSkipsZeroPages()
    {
        using var memory = new GuestMemory();
        var slot = memory.SetRegion(0, 0x4000_0000, 64 << 20, MemorySlotFlags.None);
        memory.SetRegion(3, 0x1000, 0x3000, MemorySlotFlags.None);
        memory.Write<ulong>(0x4000_0000, 0x1122334455667788);
        memory.Write<byte>(0x4000_0000 + (33 << 20) + 4095, 0xAB);
        memory.Write<uint>(0x2000, 0xCAFEF00D);
        var stream = new MemoryStream();
        var writer = new SnapshotWriter(stream);
        GuestMemorySnapshot.Save(memory, writer);
        writer.Finish();

        // Three non-zero pages, the page bitmaps (64 MiB: 2 KiB; 12 KiB: 8 bytes), the section framing and per slot
        // the padding that puts its pages on a 4 KiB boundary of the file.
        Assert.InRange(stream.Length, (3 * 4096) + 2048, (3 * 4096) + 2048 + 256 + (2 * 4095));

        using var copy = new GuestMemory();
        copy.SetRegion(0, 0x4000_0000, 64 << 20, MemorySlotFlags.None);
        copy.SetRegion(3, 0x1000, 0x3000, MemorySlotFlags.None);
        stream.Position = 0;
        var reader = new SnapshotReader(stream, "m.snap");
        GuestMemorySnapshot.Load(copy, reader);
        reader.ReadEnd();
        Assert.Equal(0x1122334455667788UL, copy.Read<ulong>(0x4000_0000));
        Assert.Equal(0xAB, copy.Read<byte>(0x4000_0000 + (33 << 20) + 4095));
        Assert.Equal(0xCAFEF00DU, copy.Read<uint>(0x2000));
        Assert.True(new ReadOnlySpan<byte>(copy.GetSlot(0).HostPointer, 64 << 20).SequenceEqual(new ReadOnlySpan<byte>(slot.HostPointer, 64 << 20)));
    }

    // From a file on Linux the pages are mapped copy-on-write: the restored memory has the saved contents, a guest
    // write changes the guest's copy only, and the file is not opened for writing. Elsewhere they are read: the same contents.
    [Fact]
    public unsafe void GuestMemoryRestoredFromAFileIsCopyOnWrite()
    {
        string path = Path.Combine(Path.GetTempPath(), $"softkvm-cow-{Guid.NewGuid():N}.snap");
        try
        {
            using var memory = new GuestMemory();
            var slot = memory.SetRegion(0, 0x4000_0000, 16 << 20, MemorySlotFlags.None);
            for (ulong page = 0; page < 4096; page += 3)
            {
                memory.Write<ulong>(0x4000_0000 + (page * 4096) + (page % 512 * 8), page * 0x0101_0101);
            }

            using (var stream = new FileStream(path, FileMode.Create))
            {
                var writer = new SnapshotWriter(stream);
                writer.BeginSection("ONE ").Write(1);
                writer.EndSection();
                GuestMemorySnapshot.Save(memory, writer);
                writer.Finish();
            }

            byte[] before = File.ReadAllBytes(path);
            using var copy = new GuestMemory();
            var restored = copy.SetRegion(0, 0x4000_0000, 16 << 20, MemorySlotFlags.None);
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read))
            {
                var reader = new SnapshotReader(stream, "cow.snap");
                reader.ReadSection("ONE ").Dispose();
                GuestMemorySnapshot.Load(copy, reader);
                reader.ReadEnd();
            }

            Assert.Equal(restored.IsMapping, OperatingSystem.IsLinux());
            Assert.Equal(OperatingSystem.IsLinux(), OperatingSystem.IsLinux() && File.ReadAllText("/proc/self/maps").Contains(path, StringComparison.Ordinal));
            Assert.True(new ReadOnlySpan<byte>(restored.HostPointer, 16 << 20).SequenceEqual(new ReadOnlySpan<byte>(slot.HostPointer, 16 << 20)));
            copy.Write<ulong>(0x4000_0000 + (3 * 4096) + 24, 0xDEAD);
            copy.Write<ulong>(0x4000_0000 + (4 * 4096), 0xBEEF);
            Assert.Equal(0xDEADUL, copy.Read<ulong>(0x4000_0000 + (3 * 4096) + 24));
            Assert.Equal(0xBEEFUL, copy.Read<ulong>(0x4000_0000 + (4 * 4096)));
            Assert.Equal(before, File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void GuestMemoryOfAnotherLayoutIsRefused()
    {
        using var memory = new GuestMemory();
        memory.SetRegion(0, 0x4000_0000, 1 << 20, MemorySlotFlags.None);
        var stream = new MemoryStream();
        var writer = new SnapshotWriter(stream);
        GuestMemorySnapshot.Save(memory, writer);
        writer.Finish();

        using var other = new GuestMemory();
        other.SetRegion(0, 0x4000_0000, 2 << 20, MemorySlotFlags.None);
        stream.Position = 0;
        var e = Assert.Throws<SnapshotFormatException>(() => GuestMemorySnapshot.Load(other, new SnapshotReader(stream, "m.snap")));
        Assert.Contains("does not match the machine's", e.Message);
    }

    private static byte[] Sample()
    {
        var stream = new MemoryStream();
        var writer = new SnapshotWriter(stream);
        var w = writer.BeginSection("ONE ");
        w.Write(7U);
        writer.EndSection();
        writer.Finish();
        return stream.ToArray();
    }

    private static void ReadSample(byte[] file)
    {
        var reader = new SnapshotReader(new MemoryStream(file), "x.snap");
        using (var r = reader.ReadSection("ONE "))
        {
            Assert.Equal(7U, r.ReadUInt32());
        }

        reader.ReadEnd();
    }
}

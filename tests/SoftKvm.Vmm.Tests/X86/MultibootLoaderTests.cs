using System.Buffers.Binary;
using System.Text;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.X86;

namespace SoftKvm.Vmm.Tests.X86;

public class MultibootLoaderTests
{
    [Fact]
    public void Compute32ElfIsLoadedFromItsProgramHeaders()
    {
        var image = MultibootImage.Load(MultibootImages.Guest("compute32.elf"));
        var elf = ElfImage.Parse("compute32.elf", image.Data);
        Assert.False(image.Header.IsAoutKludge);
        Assert.Equal((uint)elf.Entry, image.Entry);
        Assert.Equal(elf.Segments.Count, image.Segments.Count);
        Assert.True(image.LowAddress >= 0x10_0000);
        Assert.Equal(0, image.Header.Offset % 4);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(0x40)]
    [InlineData(8192 - 32)]
    public void HeaderIsFoundOnAnyAlignedOffsetInTheFirst8KiB(int offset)
    {
        var b = new byte[8192 + 64];
        MultibootImages.Header(b.AsSpan(offset), 0x3);
        var h = MultibootHeader.Find("k", b);
        Assert.Equal(offset, h.Offset);
        Assert.Equal(3u, h.Flags);
    }

    [Fact]
    public void HeaderBeyond8KiBIsNotFound()
    {
        var b = new byte[8192 + 64];
        MultibootImages.Header(b.AsSpan(8192), 0);
        var e = Assert.Throws<BadImageException>(() => MultibootHeader.Find("k", b));
        Assert.Contains("no Multiboot v1 header in its first 8 KiB", e.Message);
    }

    [Fact]
    public void UnalignedHeaderIsNotFound()
    {
        var b = new byte[256];
        MultibootImages.Header(b.AsSpan(2), 0);
        Assert.Throws<BadImageException>(() => MultibootHeader.Find("k", b));
    }

    [Fact]
    public void BadChecksumIsReportedWithItsOffset()
    {
        var b = new byte[256];
        MultibootImages.Header(b.AsSpan(0x20), 0, checksum: 1);
        var e = Assert.Throws<BadImageException>(() => MultibootImage.Parse("k", b));
        Assert.Equal("'k' has a Multiboot header at offset 0x20 with a bad checksum", e.Message);
    }

    [Fact]
    public void VideoModeRequestIsRefused()
    {
        var b = new byte[256];
        MultibootImages.Header(b, 0x4);
        var e = Assert.Throws<BadImageException>(() => MultibootImage.Parse("k", b));
        Assert.Contains("video mode", e.Message);
    }

    [Fact]
    public void AoutKludgeLoadsTheFileRangeWithBssAndEntry()
    {
        var image = MultibootImage.Parse("k", MultibootImages.Aout());
        Assert.True(image.Header.IsAoutKludge);
        Assert.Equal(0x10_0080u, image.Entry);
        var s = Assert.Single(image.Segments);
        Assert.Equal(new MultibootSegment(0x10_0000, 0, 0x1000, 0x3000), s);
    }

    [Fact]
    public void AoutKludgeWithZeroLoadEndLoadsToTheEndOfTheFile()
    {
        var image = MultibootImage.Parse("k", MultibootImages.Aout(size: 0x1800, loadEnd: 0, bssEnd: 0));
        var s = Assert.Single(image.Segments);
        Assert.Equal(0x1800, s.FileSize);
        Assert.Equal(0x1800UL, s.MemorySize);
    }

    [Theory]
    [InlineData(0x10_4000u, 0u, 0x10_0080u)]
    [InlineData(0x10_1000u, 0x10_0800u, 0x10_0080u)]
    [InlineData(0x10_1000u, 0x10_3000u, 0x20_0000u)]
    public void InconsistentAoutFieldsAreBadImages(uint loadEnd, uint bssEnd, uint entry)
    {
        Assert.Throws<BadImageException>(() => MultibootImage.Parse("k", MultibootImages.Aout(loadEnd: loadEnd, bssEnd: bssEnd, entry: entry)));
    }

    [Fact]
    public void Elf64WithoutTheAoutKludgeIsRefused()
    {
        var e = Assert.Throws<BadImageException>(() => MultibootImage.Parse("k64", MultibootImages.Elf64WithHeader()));
        Assert.Contains("64-bit ELF", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void NoHeaderIsRefused()
    {
        var e = Assert.Throws<BadImageException>(() => MultibootImage.Parse("zeros", new byte[16384]));
        Assert.Equal("'zeros' has no Multiboot v1 header in its first 8 KiB", e.Message);
    }

    [Fact]
    public void InfoStructureHasMemoryMapCommandLineLoaderNameAndModules()
    {
        const ulong At = PcMemoryMap.BootDataStart;
        var blob = MultibootInfo.Build(At, PcMemoryMap.BootDataEnd, PcMemoryMap.Multiboot(128UL << 20), "console=ttyS0 quiet", [new MultibootModule(0x20_0000, 0x20_1234, "initrd.img")]);
        uint U32(ulong addr) => BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan((int)(addr - At)));
        ulong U64(ulong addr) => BinaryPrimitives.ReadUInt64LittleEndian(blob.AsSpan((int)(addr - At)));
        string Str(ulong addr)
        {
            int start = (int)(addr - At);
            int end = Array.IndexOf(blob, (byte)0, start);
            return Encoding.UTF8.GetString(blob, start, end - start);
        }

        uint flags = U32(At);
        Assert.Equal(MultibootInfo.FlagMemory | MultibootInfo.FlagCmdline | MultibootInfo.FlagMods | MultibootInfo.FlagMmap | MultibootInfo.FlagBootLoaderName, flags);
        Assert.Equal(639u, U32(At + 4));
        Assert.Equal(127u * 1024, U32(At + 8));
        Assert.Equal("console=ttyS0 quiet", Str(U32(At + 16)));
        Assert.Equal(1u, U32(At + 20));
        ulong mod = U32(At + 24);
        Assert.Equal(0x20_0000u, U32(mod));
        Assert.Equal(0x20_1234u, U32(mod + 4));
        Assert.Equal("initrd.img", Str(U32(mod + 8)));
        Assert.Equal("softkvm", Str(U32(At + 64)));

        uint mmapLength = U32(At + 44);
        ulong mmap = U32(At + 48);
        var entries = new List<(ulong Base, ulong Length, uint Type)>();
        for (ulong p = mmap; p < mmap + mmapLength; p += U32(p) + 4)
        {
            entries.Add((U64(p + 4), U64(p + 12), U32(p + 20)));
        }

        Assert.Equal(
            [(0UL, 0x9FC00UL, 1u), (0x9FC00UL, 0x60400UL, 2u), (0x10_0000UL, (127UL << 20), 1u)],
            entries);
    }

    [Fact]
    public void MemoryAbove3GiBContinuesAt4GiBInTheMap()
    {
        var ranges = PcMemoryMap.Ranges(4UL << 30);
        Assert.Equal(new MultibootMemoryRange(0x10_0000, 0xC000_0000 - 0x10_0000, 1), ranges[2]);
        Assert.Equal(new MultibootMemoryRange(0x1_0000_0000, 1UL << 30, 1), ranges[3]);
    }

    [Fact]
    public void InfoWithoutModulesHasNoModsFlag()
    {
        var blob = MultibootInfo.Build(PcMemoryMap.BootDataStart, PcMemoryMap.BootDataEnd, PcMemoryMap.Multiboot(2UL << 20), null, []);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        Assert.Equal(0u, flags & MultibootInfo.FlagMods);
        Assert.Equal(1024u, BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(8)));
    }

    [Fact]
    public void HugeCommandLineDoesNotFitTheBootDataArea()
    {
        Assert.Throws<MemoryTooSmallException>(() => MultibootInfo.Build(PcMemoryMap.BootDataStart, PcMemoryMap.BootDataEnd, PcMemoryMap.Multiboot(2UL << 20), new string('x', 1 << 20), []));
    }

    [Fact]
    public void HigherHalfElfEntryIsTranslatedToItsPhysicalAddress()
    {
        var image = MultibootImage.Parse("hh", MultibootImages.Elf32(0xC010_0000, 0xC010_0120));
        Assert.Equal(0x10_0120u, image.Entry);
        Assert.Equal(new MultibootSegment(0x10_0000, 0, 0x200, 0x1000), Assert.Single(image.Segments));
    }

    [Fact]
    public void ElfEntryOutsideEverySegmentIsABadImage()
    {
        Assert.Throws<BadImageException>(() => MultibootImage.Parse("k", MultibootImages.Elf32(0x10_0000, 0x50_0000)));
    }
}

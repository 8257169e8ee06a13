using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Vmm.Tests.Loaders;

public class KernelImageTests
{
    [Fact]
    public void RecognisesAnArm64ImageHeader()
    {
        var k = KernelImage.Parse("Image", Images.Arm64Image(0, 0x20_0000), ElfImage.MachineAArch64);
        Assert.Equal(KernelFormat.Arm64Image, k.Format);
        Assert.Equal(0x20_0000UL, k.Header!.Value.ImageSize);
        Assert.False(k.WasGzipped);
    }

    [Fact]
    public void DecompressesGzip()
    {
        var k = KernelImage.Parse("Image.gz", Images.Gzip(Images.Arm64Image(0x80000, 0x10000)), ElfImage.MachineAArch64);
        Assert.True(k.WasGzipped);
        Assert.Equal(KernelFormat.Arm64Image, k.Format);
        Assert.Equal(0x80000UL, k.Header!.Value.TextOffset);
    }

    [Fact]
    public void CorruptGzipIsABadImage()
    {
        var e = Assert.Throws<BadImageException>(() => KernelImage.Parse("x.gz", [0x1F, 0x8B, 8, 0, 1, 2, 3], ElfImage.MachineAArch64));
        Assert.Contains("gzip", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void HeaderlessBytesAreRaw()
    {
        var k = KernelImage.Parse("raw.bin", [0x00, 0x00, 0x80, 0xD2], ElfImage.MachineAArch64);
        Assert.Equal(KernelFormat.Raw, k.Format);
    }

    [Fact]
    public void EmptyFileIsNotAKernel()
    {
        var e = Assert.Throws<BadImageException>(() => KernelImage.Parse("empty", [], ElfImage.MachineAArch64));
        Assert.Contains("not a kernel image", e.Message);
    }

    [Fact]
    public void BigEndianImageIsRefused()
    {
        Assert.Throws<BadImageException>(() => KernelImage.Parse("be", Images.Arm64Image(0, 0x1000, flags: 1), ElfImage.MachineAArch64));
    }

    [Fact]
    public void Elf64ForArm64()
    {
        var elf = Images.Elf64(ElfImage.MachineAArch64, 0x4008_0010, 0x4008_0000, [1, 2, 3, 4], bss: 12);
        var k = KernelImage.Parse("k.elf", elf, ElfImage.MachineAArch64);
        Assert.Equal(KernelFormat.Elf, k.Format);
        Assert.Equal(0x4008_0010UL, k.Elf!.Entry);
        Assert.True(k.Elf.Is64Bit);
        Assert.Equal(new ElfSegment(0x4008_0000, 120, 4, 16), Assert.Single(k.Elf.Segments));
    }

    [Fact]
    public void Elf32IsParsed()
    {
        var elf = ElfImage.Parse("k32", Images.Elf32(ElfImage.MachineI386, 0x10_0000, 0x10_0000, [0x90, 0xF4]));
        Assert.False(elf.Is64Bit);
        Assert.Equal(ElfImage.MachineI386, elf.Machine);
        Assert.Equal(0x10_0000UL, elf.LowAddress);
        Assert.Equal(0x10_0002UL, elf.HighAddress);
    }

    [Fact]
    public void ElfForAnotherMachineIsNamed()
    {
        var elf = Images.Elf64(ElfImage.MachineX86_64, 0x10_0000, 0x10_0000, [0x90]);
        var e = Assert.Throws<BadImageException>(() => KernelImage.Parse("k.elf", elf, ElfImage.MachineAArch64));
        Assert.Contains("x86-64", e.Message);
    }

    [Fact]
    public void TruncatedElfIsABadImage()
    {
        var elf = Images.Elf64(ElfImage.MachineAArch64, 0x4008_0000, 0x4008_0000, new byte[64]);
        Assert.Throws<BadImageException>(() => KernelImage.Parse("cut", elf[..100], ElfImage.MachineAArch64));
    }

    [Fact]
    public void MissingFileIsAnInputFileError()
    {
        var e = Assert.Throws<InputFileException>(() => KernelImage.Load("/nonexistent/Image", ElfImage.MachineAArch64));
        Assert.Equal("kernel '/nonexistent/Image' does not exist", e.Message);
    }

    [Fact]
    public void DirectoryIsAnInputFileError()
    {
        var e = Assert.Throws<InputFileException>(() => KernelImage.Load(Path.GetTempPath(), ElfImage.MachineAArch64));
        Assert.Contains("is a directory", e.Message);
    }
}

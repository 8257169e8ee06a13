using SoftKvm.Core.Memory;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Vmm.Tests.Loaders;

public class Arm64BootPlannerTests
{
    private const ulong Ram = 0x4000_0000;
    private const ulong MiB = 1UL << 20;

    private static KernelImage Image(ulong textOffset, ulong imageSize, int fileSize = 4096) =>
        KernelImage.Parse("Image", Images.Arm64Image(textOffset, imageSize, fileSize), ElfImage.MachineAArch64);

    private static KernelImage Raw(int size) => KernelImage.Parse("raw", new byte[size].Select(_ => (byte)1).ToArray(), ElfImage.MachineAArch64);

    [Fact]
    public void RawBinaryLoadsAtRamPlus0x80000()
    {
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, Raw(100), null);
        Assert.Equal(Ram + 0x80000, p.KernelStart);
        Assert.Equal(Ram + 0x80000, p.Entry);
        Assert.True(p.IsLinux);
        Assert.Null(p.InitrdStart);
        Assert.Equal(Ram + (128 * MiB), p.DtbAddress); // where the initrd would go, 2 MiB aligned
    }

    [Fact]
    public void ImageWithoutImageSizeIsTreatedLikeRaw()
    {
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, Image(0x12345, 0), null);
        Assert.Equal(Ram + 0x80000, p.KernelStart);
    }

    [Fact]
    public void ImageWithSmallTextOffsetMovesUpTwoMiB()
    {
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, Image(0, 0x100_0000), null);
        Assert.Equal(Ram + (2 * MiB), p.KernelStart);
        Assert.Equal(Ram + (2 * MiB) + 0x100_0000, p.KernelEnd);
    }

    [Fact]
    public void ImageWithTextOffsetLoadsThere()
    {
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, Image(0x80000, 0x100_0000), null);
        Assert.Equal(Ram + 0x80000, p.KernelStart);
    }

    [Fact]
    public void InitrdAt128MiBAndDtbAfterItTwoMiBAligned()
    {
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, Image(0, 0x100_0000), 3 * MiB + 5);
        Assert.Equal(Ram + (128 * MiB), p.InitrdStart);
        Assert.Equal(Ram + (132 * MiB), p.DtbAddress);
    }

    [Fact]
    public void SmallRamPutsInitrdAtHalf()
    {
        var p = Arm64BootPlanner.Plan(Ram, 64 * MiB, Raw(16), 1 * MiB);
        Assert.Equal(Ram + (32 * MiB), p.InitrdStart);
    }

    [Fact]
    public void LargeKernelPushesInitrdAboveIt()
    {
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, Image(0, 200 * MiB), 4096);
        Assert.Equal(Ram + (202 * MiB), p.InitrdStart);
        Assert.Equal(Ram + (204 * MiB), p.DtbAddress);
    }

    [Fact]
    public void KernelTooBigForRamIsMemoryTooSmall()
    {
        var e = Assert.Throws<MemoryTooSmallException>(() => Arm64BootPlanner.Plan(Ram, 16 * MiB, Image(0, 32 * MiB), null));
        Assert.Contains("16 MiB", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void InitrdTooBigIsMemoryTooSmall()
    {
        Assert.Throws<MemoryTooSmallException>(() => Arm64BootPlanner.Plan(Ram, 64 * MiB, Raw(16), 40 * MiB));
    }

    [Fact]
    public void NoRoomForTheDeviceTree()
    {
        Assert.Throws<MemoryTooSmallException>(() => Arm64BootPlanner.Plan(Ram, 64 * MiB, Raw(16), 31 * MiB));
    }

    [Fact]
    public void ElfIsEnteredAtItsEntryWithTheDtbAtRamStart()
    {
        var k = KernelImage.Parse("k", Images.Elf64(ElfImage.MachineAArch64, 0x4010_0040, 0x4010_0000, new byte[64]), ElfImage.MachineAArch64);
        var p = Arm64BootPlanner.Plan(Ram, 128 * MiB, k, null);
        Assert.False(p.IsLinux);
        Assert.Equal(0x4010_0040UL, p.Entry);
        Assert.Equal(Ram, p.DtbAddress);
        Assert.Equal(0x4010_0000UL, p.DtbLimit);
    }

    [Fact]
    public void ElfAtRamStartGetsTheDtbAfterIt()
    {
        var k = KernelImage.Parse("k", Images.Elf64(ElfImage.MachineAArch64, Ram, Ram, new byte[64]), ElfImage.MachineAArch64);
        var p = Arm64BootPlanner.Plan(Ram, 512 * MiB, k, null);
        Assert.True(p.DtbAddress > Ram);
        Assert.Equal(0UL, p.DtbAddress % (2 * MiB));
    }

    [Fact]
    public void ElfBelowRamIsABadImage()
    {
        var k = KernelImage.Parse("k", Images.Elf64(ElfImage.MachineAArch64, 0x1000, 0x1000, new byte[64]), ElfImage.MachineAArch64);
        Assert.Throws<BadImageException>(() => Arm64BootPlanner.Plan(Ram, 512 * MiB, k, null));
    }

    [Fact]
    public void ElfBeyondRamIsMemoryTooSmall()
    {
        var k = KernelImage.Parse("k", Images.Elf64(ElfImage.MachineAArch64, 0x5000_0000, 0x5000_0000, new byte[64]), ElfImage.MachineAArch64);
        Assert.Throws<MemoryTooSmallException>(() => Arm64BootPlanner.Plan(Ram, 128 * MiB, k, null));
    }

    [Fact]
    public void DeviceTreeMustFitBelowTheLimit()
    {
        var k = KernelImage.Parse("k", Images.Elf64(ElfImage.MachineAArch64, Ram + 0x1000, Ram + 0x1000, new byte[64]), ElfImage.MachineAArch64);
        var p = Arm64BootPlanner.Plan(Ram, 128 * MiB, k, null);
        Arm64BootPlanner.CheckDeviceTreeFits(p, 0x1000);
        Assert.Throws<MemoryTooSmallException>(() => Arm64BootPlanner.CheckDeviceTreeFits(p, 0x1001));
    }

    [Fact]
    public void WriterLoadsElfSegmentsAndZeroesBss()
    {
        using var mem = new GuestMemory();
        mem.SetRegion(0, Ram, 4 * MiB, MemorySlotFlags.None);
        mem.Write(Ram + 0x1004, new byte[] { 9, 9, 9, 9 });
        var k = KernelImage.Parse("k", Images.Elf64(ElfImage.MachineAArch64, Ram + 0x1000, Ram + 0x1000, [1, 2, 3, 4], bss: 8), ElfImage.MachineAArch64);
        var p = Arm64BootPlanner.Plan(Ram, 4 * MiB, k, null);
        GuestImageWriter.Write(mem, p, k, [], [0xD0, 0x0D]);
        var back = new byte[12];
        mem.Read(Ram + 0x1000, back);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0 }, back);
        Assert.Equal(0x0DD0, mem.Read<ushort>(p.DtbAddress));
    }

    [Fact]
    public void WriterLoadsImageAndInitrd()
    {
        using var mem = new GuestMemory();
        mem.SetRegion(0, Ram, 64 * MiB, MemorySlotFlags.None);
        var k = Raw(8);
        var p = Arm64BootPlanner.Plan(Ram, 64 * MiB, k, 3);
        GuestImageWriter.Write(mem, p, k, [7, 7, 7], [1]);
        Assert.Equal(1, mem.Read<byte>(Ram + 0x80000));
        Assert.Equal(7, mem.Read<byte>(p.InitrdStart!.Value + 2));
        Assert.Equal(1, mem.Read<byte>(p.DtbAddress));
    }
}

using SoftKvm.Vmm.Arm64.Semihosting;

namespace SoftKvm.Vmm.Tests.Arm64.Semihosting;

/// <summary>SYS_HEAPINFO's layout: RAM's largest gap between the loaded images, heap at its bottom, stack at its top.</summary>
public sealed class SemihostingLayoutTests
{
    private const ulong Ram = 0x4000_0000;

    [Fact]
    public void The_heap_and_stack_share_the_largest_gap_after_the_kernel()
    {
        // QEMU virt's bare-metal ELF: the device tree at the start of RAM, the kernel at 0x4008_0000.
        var layout = SemihostingLayout.LargestGap(Ram, 128 << 20, [(Ram, Ram + 0x1_0000), (0x4008_0000, 0x4009_0000)]);
        Assert.Equal(new SemihostingLayout(0x4009_0000, Ram + (128 << 20), Ram + (128 << 20), 0x4009_0000), layout);
    }

    [Fact]
    public void A_larger_gap_before_the_images_wins()
    {
        ulong top = Ram + (64 << 20);
        var layout = SemihostingLayout.LargestGap(Ram, 64 << 20, [(Ram + (48 << 20), top - (1 << 20)), (top - 0x1000, top)]);
        Assert.Equal(Ram, layout.HeapBase);
        Assert.Equal(Ram + (48 << 20), layout.HeapLimit);
        Assert.Equal(layout.HeapLimit, layout.StackBase);
        Assert.Equal(layout.HeapBase, layout.StackLimit);
    }

    [Fact]
    public void Overlapping_and_empty_ranges_are_merged_or_ignored()
    {
        var layout = SemihostingLayout.LargestGap(Ram, 0x10_0000, [(Ram + 0x2000, Ram + 0x8000), (Ram + 0x1000, Ram + 0x3000), (Ram + 0x9000, Ram + 0x9000)]);
        Assert.Equal(Ram + 0x8000, layout.HeapBase);
        Assert.Equal(Ram + 0x10_0000, layout.HeapLimit);
    }
}

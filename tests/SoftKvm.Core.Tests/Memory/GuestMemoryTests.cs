using SoftKvm.Core.Errors;
using SoftKvm.Core.Memory;

namespace SoftKvm.Core.Tests.Memory;

public sealed unsafe class GuestMemoryTests : IDisposable
{
    private readonly GuestMemory _memory = new();

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void ZeroSizeSlotIsRejectedWithOneLine()
    {
        var e = Assert.Throws<MemoryLayoutException>(() => _memory.SetRegion(0, 0x1000, 0, MemorySlotFlags.None));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("size 0", e.Message);
    }

    [Theory]
    [InlineData(0x1001UL, 0x1000UL)]
    [InlineData(0x1000UL, 0x1800UL)]
    public void MisalignedSlotIsRejected(ulong gpa, ulong size) =>
        Assert.Throws<MemoryLayoutException>(() => _memory.SetRegion(0, gpa, size, MemorySlotFlags.None));

    [Fact]
    public void SlotBeyond52BitsIsRejected() =>
        Assert.Throws<MemoryLayoutException>(() => _memory.SetRegion(0, (1UL << 52) - 0x1000, 0x2000, MemorySlotFlags.None));

    [Theory]
    [InlineData(0x10000UL, 0x4000UL)] // same range
    [InlineData(0xF000UL, 0x2000UL)] // straddles the base
    [InlineData(0x13000UL, 0x2000UL)] // straddles the last page
    [InlineData(0x11000UL, 0x1000UL)] // inside
    [InlineData(0x8000UL, 0x10000UL)] // covers
    public void OverlappingSlotIsRejected(ulong gpa, ulong size)
    {
        _memory.SetRegion(0, 0x10000, 0x4000, MemorySlotFlags.None);
        var e = Assert.Throws<MemoryLayoutException>(() => _memory.SetRegion(1, gpa, size, MemorySlotFlags.None));
        Assert.Contains("overlaps slot 0", e.Message);
    }

    [Fact]
    public void AdjacentSlotsAreAcceptedAndLookupHonoursEdges()
    {
        _memory.SetRegion(0, 0x10000, 0x4000, MemorySlotFlags.None);
        _memory.SetRegion(1, 0x14000, 0x1000, MemorySlotFlags.None); // starts at last+1
        _memory.SetRegion(2, 0xF000, 0x1000, MemorySlotFlags.None); // ends at base-1

        Assert.Equal(2, _memory.FindSlot(0xFFFF)!.Id);
        Assert.Equal(0, _memory.FindSlot(0x10000)!.Id);
        Assert.Equal(0, _memory.FindSlot(0x13FFF)!.Id);
        Assert.Equal(1, _memory.FindSlot(0x14000)!.Id);
        Assert.Null(_memory.FindSlot(0x15000));
        Assert.Null(_memory.FindSlot(0xEFFF));
    }

    [Fact]
    public void DeletingAnUnknownSlotThrowsTyped()
    {
        var e = Assert.Throws<UnknownSlotException>(() => _memory.DeleteRegion(7));
        Assert.Equal(7, e.Slot);
        Assert.Equal("memory slot 7 does not exist", e.Message);
    }

    [Fact]
    public void DeletedSlotBecomesMmio()
    {
        _memory.SetRegion(3, 0x20000, 0x1000, MemorySlotFlags.None);
        Assert.True(_memory.TryGetHostPointer(0x20000, false, out _) != null);
        _memory.DeleteRegion(3);
        Assert.True(_memory.TryGetHostPointer(0x20000, false, out _) == null);
        Assert.Throws<UnknownSlotException>(() => _memory.GetSlot(3));
    }

    [Fact]
    public void InvalidateKeepsContentsBumpsGenerationAndSignals()
    {
        _memory.SetRegion(0, 0x40000000, 0x2000, MemorySlotFlags.None);
        _memory.Write<uint>(0x40000010, 0xCAFEF00D);
        long generation = _memory.Generation;
        int changed = 0;
        _memory.Changed += () => changed++;

        _memory.Invalidate();

        Assert.True(_memory.Generation > generation);
        Assert.Equal(1, changed);
        Assert.Equal(0xCAFEF00Du, _memory.Read<uint>(0x40000010));
    }

    [Fact]
    public void ResizeByReplaceKeepsContentsAndBumpsGeneration()
    {
        _memory.SetRegion(0, 0x40000000, 0x2000, MemorySlotFlags.None);
        _memory.Write<ulong>(0x40000ff8, 0x1122334455667788);
        long generation = _memory.Generation;

        var bigger = _memory.SetRegion(0, 0x40000000, 0x8000, MemorySlotFlags.None);

        Assert.Equal(0x8000UL, bigger.Size);
        Assert.Single(_memory.Slots);
        Assert.Equal(0x1122334455667788UL, _memory.Read<ulong>(0x40000ff8));
        Assert.Equal(0UL, _memory.Read<ulong>(0x40007ff8));
        Assert.True(_memory.Generation > generation);
    }

    [Fact]
    public void WriteToReadOnlySlotIsMmioButReadIsRam()
    {
        _memory.SetRegion(0, 0x0, 0x1000, MemorySlotFlags.ReadOnly);
        Assert.True(_memory.TryGetHostPointer(0x10, write: false, out ulong available) != null);
        Assert.Equal(0xFF0UL, available);
        Assert.True(_memory.TryGetHostPointer(0x10, write: true, out _) == null);
    }

    [Fact]
    public void DirtyLogRecordsWritesAndClearsOnHarvest()
    {
        _memory.SetRegion(5, 0x100000, 0x10000, MemorySlotFlags.LogDirtyPages);
        _ = _memory.TryGetHostPointer(0x100000 + 0x3010, write: true, out _);
        _memory.Write<uint>(0x100000 + 0x9ffe, 0xAABBCCDD); // crosses into page 10
        _ = _memory.TryGetHostPointer(0x100000 + 0x5000, write: false, out _); // reads do not dirty

        long generation = _memory.Generation;
        ulong[] log = _memory.GetDirtyLog(5);

        Assert.Equal((1UL << 3) | (1UL << 9) | (1UL << 10), log[0]);
        Assert.True(_memory.Generation > generation);
        Assert.Equal(0UL, _memory.GetDirtyLog(5)[0]);
    }

    [Fact]
    public void DirtyLogOfSlotWithoutLoggingIsRejected()
    {
        _memory.SetRegion(0, 0x0, 0x1000, MemorySlotFlags.None);
        Assert.Throws<MemoryLayoutException>(() => _memory.GetDirtyLog(0));
    }

    [Fact]
    public void VmmAccessSpansAdjacentSlotsAndRejectsHoles()
    {
        _memory.SetRegion(0, 0x0, 0x1000, MemorySlotFlags.None);
        _memory.SetRegion(1, 0x1000, 0x1000, MemorySlotFlags.None);
        byte[] data = [1, 2, 3, 4, 5, 6, 7, 8];
        _memory.Write(0xffc, data);
        var back = new byte[8];
        _memory.Read(0xffc, back);
        Assert.Equal(data, back);
        Assert.Equal(5, _memory.GetSlot(1).HostPointer[0]);

        Assert.Throws<GuestMemoryAccessException>(() => _memory.Write(0x1ffc, data));
        Assert.True(_memory.IsBacked(0x0, 0x2000));
        Assert.False(_memory.IsBacked(0x1000, 0x1001));
    }

    [Fact]
    public void HostPointerLookupReportsBytesToSlotEnd()
    {
        var slot = _memory.SetRegion(0, 0x40000000, 0x10000, MemorySlotFlags.None);
        byte* p = _memory.TryGetHostPointer(0x4000fff0, write: true, out ulong available);
        Assert.True(p == slot.HostPointer + 0xfff0);
        Assert.Equal(0x10UL, available);
    }

    [Fact]
    public void ManySlotsAreFoundByBinarySearch()
    {
        for (int i = 0; i < 512; i++)
        {
            _memory.SetRegion(i, (ulong)i * 0x2000, 0x1000, MemorySlotFlags.None);
        }

        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(i, _memory.FindSlot((ulong)i * 0x2000 + 0xfff)!.Id);
            Assert.Null(_memory.FindSlot((ulong)i * 0x2000 + 0x1000));
        }
    }
}

using SoftKvm.Core.Published;

namespace SoftKvm.Core.Tests.Published;

/// <summary><see cref="PublishedReads"/>: one register per slot, a value read only under its own key, retracted until published again.</summary>
public sealed class PublishedReadsTests
{
    [Fact]
    public void A_published_value_is_read_under_its_port_and_size_only_until_retracted()
    {
        var reads = new PublishedReads();
        var mask = reads.ClaimPort(0x21, 1)!;
        Assert.False(reads.TryReadPort(0x21, 1, out _)); // nothing published yet
        mask.Publish(0x5A);
        Assert.True(mask.IsPublished);
        Assert.True(reads.TryReadPort(0x21, 1, out ulong v));
        Assert.Equal(0x5AUL, v);
        Assert.False(reads.TryReadPort(0x21, 2, out _));  // another size
        Assert.False(reads.TryReadPort(0x20, 1, out _));  // another port
        mask.Retract();
        Assert.False(reads.TryReadPort(0x21, 1, out v));
        Assert.Equal(0UL, v);
        mask.Publish(0x17);
        Assert.True(reads.TryReadPort(0x21, 1, out v));
        Assert.Equal(0x17UL, v);
    }

    [Fact]
    public void A_slot_belongs_to_one_register()
    {
        var reads = new PublishedReads();
        Assert.NotNull(reads.ClaimPort(0x21, 1));
        Assert.NotNull(reads.ClaimPort(0xA1, 1));          // the slave PIC's mask: its own slot
        Assert.Null(reads.ClaimPort(0x21, 1));             // taken
        Assert.Null(reads.ClaimPort(0x60, 1));             // another port hashing to 0x21's slot
        var window = reads.ClaimMmio(0xFEC00010, 4)!;
        Assert.Null(reads.ClaimMmio(0xFEC00010 + 0x100, 4)); // same slot (bits 2-7 of the address)
        window.Publish(0x170011);
        Assert.True(reads.TryReadMmio(0xFEC00010, 4, out ulong v));
        Assert.Equal(0x170011UL, v);
        Assert.False(reads.TryReadMmio(0xFEC00010, 8, out _));
        Assert.False(reads.TryReadPort(0x10, 4, out _));   // the port table is another table
    }

    [Fact]
    public void Claims_of_undefined_sizes_or_misaligned_addresses_are_refused()
    {
        var reads = new PublishedReads();
        Assert.Throws<ArgumentOutOfRangeException>(() => reads.ClaimPort(0x21, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => reads.ClaimMmio(0xFEC00012, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => reads.ClaimMmio(1UL << 52, 4));
    }
}

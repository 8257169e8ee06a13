namespace SoftKvm.Core.Hooks;

/// <summary>An inclusive range of guest addresses [<see cref="First"/>, <see cref="Last"/>] that a hook watches.</summary>
/// <param name="First">The first address in the range.</param>
/// <param name="Last">The last address in the range (inclusive, so a range can end at the top of the address space).</param>
public readonly record struct AddressRange(ulong First, ulong Last)
{
    /// <summary>Every address.</summary>
    public static AddressRange All => new(0, ulong.MaxValue);

    /// <summary>The <paramref name="length"/> bytes from <paramref name="start"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">an empty range, or one past the top of the address space.</exception>
    public static AddressRange FromStart(ulong start, ulong length)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        if (length - 1 > ulong.MaxValue - start)
        {
            throw new ArgumentOutOfRangeException(nameof(length), "the range passes the top of the address space");
        }

        return new(start, start + (length - 1));
    }

    /// <summary>Whether <paramref name="address"/> is in the range.</summary>
    public bool Contains(ulong address) => address >= First && address <= Last;

    /// <summary>Whether any byte of [<paramref name="address"/>, <paramref name="address"/> + <paramref name="size"/>) is in the range.</summary>
    public bool Overlaps(ulong address, ulong size) => size != 0 && address <= Last && address + (size - 1) >= First;
}

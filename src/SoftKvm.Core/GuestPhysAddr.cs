namespace SoftKvm.Core;

/// <summary>
/// A guest-physical address (IPA on arm64, GPA on x86). A distinct type so that guest-physical,
/// guest-virtual and host addresses cannot be mixed up at API boundaries.
/// </summary>
/// <param name="Value">The raw address.</param>
public readonly record struct GuestPhysAddr(ulong Value) : IComparable<GuestPhysAddr>
{
    /// <summary>Returns the address <paramref name="offset"/> bytes above this one.</summary>
    public GuestPhysAddr Add(ulong offset) => new(Value + offset);

    /// <inheritdoc />
    public int CompareTo(GuestPhysAddr other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public override string ToString() => $"0x{Value:x}";

    /// <summary>Wraps a raw address.</summary>
    public static implicit operator GuestPhysAddr(ulong value) => new(value);
}

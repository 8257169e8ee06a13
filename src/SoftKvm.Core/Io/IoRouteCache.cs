namespace SoftKvm.Core.Io;

/// <summary>
/// The device range an access to an <see cref="IoBus"/> found last, kept by the caller (a vCPU: one per bus it
/// accesses) for <see cref="IoBus.TryReadValue"/> and <see cref="IoBus.TryWriteValue"/>: the next access inside the
/// same range calls the device without the bus's search, as long as the bus has not changed since (any
/// registration or removal makes every cache miss once). Not thread-safe: one cache per thread.
/// </summary>
public struct IoRouteCache
{
    /// <summary>The bus's registrations when the range was found; null when nothing is cached.</summary>
    internal object? Snapshot;

    /// <summary>The range's first address.</summary>
    internal ulong Start;

    /// <summary>The range's last address, less <see cref="Start"/>.</summary>
    internal ulong Extent;

    /// <summary>The device of the range.</summary>
    internal IIoDevice? Device;

    /// <summary>The device as an <see cref="IIoValueDevice"/>, or null when it serves spans only.</summary>
    internal IIoValueDevice? ValueDevice;
}

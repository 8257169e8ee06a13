using System.Runtime.CompilerServices;

namespace SoftKvm.Core.Io;

/// <summary>
/// Fixed-value reads for generated code (issue 19, <see cref="IIoFixedReads"/>): the table of a device page, and the bus's
/// generation, which every registration and unregistration advances, so that code holding a table checks with one compare
/// that the bus still routes the page to the same device.
/// </summary>
public sealed unsafe partial class IoBus
{
    /// <summary>The generation (element 0), in memory that never moves: advanced after each new snapshot is published.</summary>
    private readonly long[] _generation = GC.AllocateArray<long>(1, pinned: true);

    /// <summary>Where the bus's generation lives (read it before <see cref="FixedReadsAt"/>: a table is good while it is unchanged).</summary>
    public long* GenerationAddress => (long*)Unsafe.AsPointer(ref _generation[0]);

    /// <summary>
    /// The fixed-value table (<see cref="IIoFixedReads.FixedReads"/>) of the 4 KiB page holding <paramref name="address"/>
    /// when a device that has one holds the whole page, through <paramref name="cache"/>; null otherwise. It is good while
    /// the generation stays at <paramref name="generation"/>, the value read before the look-up.
    /// </summary>
    public ulong* FixedReadsAt(ulong address, ref IoBusCache cache, out long generation)
    {
        generation = Volatile.Read(ref _generation[0]); // before the snapshot: a change after it makes the table stale, never wrong
        ulong page = address & ~0xFFFUL;
        if (Remembered(ref cache, page, 4096) is IIoFixedReads device)
        {
            return device.FixedReads(page - cache.Start);
        }

        return null;
    }

    /// <summary>Called under the write lock after a new snapshot is published.</summary>
    private void AdvanceGeneration() => Interlocked.Increment(ref _generation[0]);
}

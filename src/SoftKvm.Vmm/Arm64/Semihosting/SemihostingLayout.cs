namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>What SYS_HEAPINFO reports: the heap and stack a C library may use (the spec's four fields).</summary>
/// <param name="HeapBase">The heap's lowest address.</param>
/// <param name="HeapLimit">One past the heap.</param>
/// <param name="StackBase">The stack's top (it grows down).</param>
/// <param name="StackLimit">The stack's lowest address.</param>
internal readonly record struct SemihostingLayout(ulong HeapBase, ulong HeapLimit, ulong StackBase, ulong StackLimit)
{
    /// <summary>
    /// As QEMU lays it out for a system guest: the largest gap of RAM that no loaded image (kernel, initrd, device
    /// tree) occupies is heap and stack together, the heap from its bottom and the stack from its top
    /// (heap base = stack limit, heap limit = stack base).
    /// </summary>
    public static SemihostingLayout LargestGap(ulong ramBase, ulong ramSize, IEnumerable<(ulong Start, ulong End)> used)
    {
        ulong ramEnd = ramBase + ramSize;
        ulong bestBase = ramBase, bestSize = 0, cursor = ramBase;
        foreach (var (start, end) in used.Where(u => u.End > u.Start).OrderBy(u => u.Start))
        {
            ulong s = Math.Clamp(start, ramBase, ramEnd);
            if (s > cursor && s - cursor > bestSize)
            {
                (bestBase, bestSize) = (cursor, s - cursor);
            }

            cursor = Math.Max(cursor, Math.Clamp(end, ramBase, ramEnd));
        }

        if (ramEnd - cursor > bestSize)
        {
            (bestBase, bestSize) = (cursor, ramEnd - cursor);
        }

        return new SemihostingLayout(bestBase, bestBase + bestSize, bestBase + bestSize, bestBase);
    }
}

namespace SoftKvm.X86.Cpu;

/// <summary>
/// LOCK-prefixed (and implicitly locked) read-modify-write on RAM: done with host compare-and-swap
/// on the guest memory, so that the operation is atomic also against plain stores of other vCPUs
/// and of the VMM (a spinlock release racing a LOCK CMPXCHG must not be lost). MMIO and
/// page-crossing operands fall back to the ordinary path (not atomic, as split locks are not
/// modelled); CMPXCHG16B is not atomic (no 128-bit compare-and-swap in .NET).
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>Translates the memory operand for a locked RMW. False = fault/exit; <paramref name="host"/> null = not
    /// atomically accessible (MMIO or crossing a page): use the ordinary path.</summary>
    internal bool LockedTarget(ref Iced.Intel.Instruction i, int size, out byte* host)
    {
        return LockedTargetAt(MemorySegment(ref i), EffectiveAddress(ref i), size, out host);
    }

    /// <summary><see cref="LockedTarget"/> for an explicit segment and offset.</summary>
    internal bool LockedTargetAt(int seg, ulong ea, int size, out byte* host)
    {
        host = null;
        if (!Linear(seg, ea, size, AccessKind.Write, out ulong linear))
        {
            return false;
        }

        if ((linear & 0xFFF) > (ulong)(0x1000 - size))
        {
            return true;
        }

        if (!TranslateData(linear, AccessKind.Write, out byte* p, out _))
        {
            return false;
        }

        host = p;
        return true;
    }

    internal static ulong AtomicLoad(byte* p, int size) => size switch
    {
        1 => Volatile.Read(ref *p),
        2 => Volatile.Read(ref *(ushort*)p),
        4 => Volatile.Read(ref *(uint*)p),
        _ => Volatile.Read(ref *(ulong*)p),
    };

    /// <summary>Compare-and-swap of <paramref name="size"/> bytes; returns the value found.</summary>
    internal static ulong CompareExchange(byte* p, int size, ulong value, ulong expected) => size switch
    {
        1 => Interlocked.CompareExchange(ref *p, (byte)value, (byte)expected),
        2 => Interlocked.CompareExchange(ref *(ushort*)p, (ushort)value, (ushort)expected),
        4 => Interlocked.CompareExchange(ref *(uint*)p, (uint)value, (uint)expected),
        _ => Interlocked.CompareExchange(ref *(ulong*)p, value, expected),
    };
}

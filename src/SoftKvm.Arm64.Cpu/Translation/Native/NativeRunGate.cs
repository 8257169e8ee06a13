using System.Runtime.InteropServices;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// Who runs native code, for <see cref="NativeCodeCache.Flush"/>: a PE enters before it runs native code and
/// exits after (every run of the CPU, so every exit to the hypervisor passes here twice), and a flush waits
/// until no PE is inside and keeps new ones out while it rewrites the region. The PE's side is one locked
/// increment and one locked decrement of a counter of its own stripe (a reader-writer lock takes about twice
/// as many, and its bookkeeping): <see cref="Stripes"/> counters on their own cache lines, a PE's stripe fixed
/// at its creation, so PEs on different threads seldom share one (they may: the counts are exact anyway).
/// The increment is a full barrier before the flag is read, and the flush sets the flag before it reads the
/// counts, so either the PE sees the flush coming and backs out, or the flush sees the PE and waits.
/// </summary>
internal sealed class NativeRunGate
{
    /// <summary>The number of counters (a power of two).</summary>
    public const int Stripes = 64;

    private static int s_nextStripe;

    private readonly PaddedCount[] _inside = new PaddedCount[Stripes];
    private readonly Lock _flushLock = new();
    private int _flushing;

    /// <summary>A stripe for a new PE (round robin).</summary>
    public static int NewStripe() => Interlocked.Increment(ref s_nextStripe) & (Stripes - 1);

    /// <summary>Enters before running native code; waits while a flush runs.</summary>
    public void Enter(int stripe)
    {
        ref int count = ref _inside[stripe].Value;
        while (true)
        {
            Interlocked.Increment(ref count);
            if (Volatile.Read(ref _flushing) == 0)
            {
                return;
            }

            Interlocked.Decrement(ref count);
            lock (_flushLock)
            {
                // the flush holds the lock while it runs: this waits for its end
            }
        }
    }

    /// <summary>Exits after running native code.</summary>
    public void Exit(int stripe) => Interlocked.Decrement(ref _inside[stripe].Value);

    /// <summary>
    /// Waits until no PE runs native code and keeps new ones out until <see cref="EndExclusive"/>. Must not be called
    /// by a thread inside the gate (it would wait for itself).
    /// </summary>
    public void BeginExclusive()
    {
        _flushLock.Enter();
        Interlocked.Exchange(ref _flushing, 1);
        var wait = default(SpinWait);
        for (int i = 0; i < Stripes; i++)
        {
            while (Volatile.Read(ref _inside[i].Value) != 0)
            {
                wait.SpinOnce();
            }
        }
    }

    /// <summary>Lets PEs run native code again (after <see cref="BeginExclusive"/>).</summary>
    public void EndExclusive()
    {
        Volatile.Write(ref _flushing, 0);
        _flushLock.Exit();
    }

    // One counter per 128 bytes (two cache lines: adjacent-line prefetch does not pair two stripes).
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedCount
    {
        [FieldOffset(0)]
        public int Value;
    }
}

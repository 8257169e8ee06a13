using System.Runtime.InteropServices;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// Who runs native code, for <see cref="NativeCodeCache.Flush"/>: a PE enters before it runs native code and exits
/// after (every run of the CPU, so every exit to the hypervisor passes here twice), and a flush waits until no PE is
/// inside and keeps new ones out while it rewrites the region. Each PE has a <see cref="Seat"/> of its own, a counter on
/// its own cache lines that only the thread running the PE writes, so entering and leaving are plain stores and a load
/// (issue 19: no locked instruction on the exit path). The ordering a store followed by a load lacks on the PE's side
/// (x86 lets the load pass the store) is supplied by the flush, which is rare: it sets its flag, then has every thread
/// of the process execute a full barrier (<see cref="Interlocked.MemoryBarrierProcessWide"/>, membarrier on Linux),
/// then reads the seats. A PE's barrier falls either before its store (its load then sees the flag and it backs out) or
/// after it (the flush then sees it inside and waits): never neither.
/// </summary>
internal sealed class NativeRunGate
{
    private readonly Lock _flushLock = new();
    private readonly Lock _seatsLock = new();
    private WeakReference<Seat>[] _seats = [];
    private int _flushing;

    /// <summary>A seat for a new PE; the gate forgets it once the PE (which holds it) is collected.</summary>
    public Seat NewSeat()
    {
        var seat = new Seat();
        lock (_seatsLock)
        {
            var seats = new List<WeakReference<Seat>>(_seats.Length + 1);
            foreach (var w in _seats)
            {
                if (w.TryGetTarget(out _))
                {
                    seats.Add(w);
                }
            }

            seats.Add(new WeakReference<Seat>(seat));
            Volatile.Write(ref _seats, [.. seats]);
        }

        return seat;
    }

    /// <summary>Enters before running native code (on the thread that runs the seat's PE); waits while a flush runs.</summary>
    public void Enter(Seat seat)
    {
        ref int count = ref seat.Count;
        while (true)
        {
            Volatile.Write(ref count, count + 1);
            if (Volatile.Read(ref _flushing) == 0)
            {
                return;
            }

            Volatile.Write(ref count, count - 1);
            lock (_flushLock)
            {
                // the flush holds the lock while it runs: this waits for its end
            }
        }
    }

    /// <summary>Exits after running native code (a release store: what the PE did is visible to a flush that sees it gone).</summary>
    public void Exit(Seat seat)
    {
        ref int count = ref seat.Count;
        Volatile.Write(ref count, count - 1);
    }

    /// <summary>
    /// Waits until no PE runs native code and keeps new ones out until <see cref="EndExclusive"/>. Must not be called
    /// by a thread inside the gate (it would wait for itself).
    /// </summary>
    public void BeginExclusive()
    {
        _flushLock.Enter();
        Interlocked.Exchange(ref _flushing, 1);
        Interlocked.MemoryBarrierProcessWide();
        var wait = default(SpinWait);
        foreach (var w in Volatile.Read(ref _seats))
        {
            if (!w.TryGetTarget(out var seat))
            {
                continue; // its PE is gone: nobody runs on it
            }

            while (Volatile.Read(ref seat.Count) != 0)
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

    /// <summary>One PE's count of its runs inside the gate (more than one when a run nests in another's hook).</summary>
    internal sealed class Seat
    {
        private Padded _padded;

        /// <summary>The count, in the middle of 128 bytes of its own (adjacent-line prefetch pairs no two seats).</summary>
        public ref int Count => ref _padded.Value;

        [StructLayout(LayoutKind.Explicit, Size = 128)]
        private struct Padded
        {
            [FieldOffset(64)]
            public int Value;
        }
    }
}

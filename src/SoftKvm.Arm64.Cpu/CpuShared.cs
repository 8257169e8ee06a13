using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// State the PEs of one VM share: the system counter's origin, the broadcast TLB invalidations (a TLBI
/// ...IS on one PE is recorded in a ring of the last <see cref="TlbiRingSize"/> and bumps an epoch; every
/// PE compares the epoch before each instruction and replays what it missed, or flushes its whole
/// software TLB when the ring no longer holds it), and the spin lock that serialises 128-bit pair accesses (CASP and
/// LDXP/STXP of two doublewords), which native code takes too.
/// </summary>
public sealed class CpuShared
{
    /// <summary>The generic timer frequency (CNTFRQ_EL0): 62.5 MHz, as QEMU's virt machine.</summary>
    public const ulong CounterFrequency = 62_500_000;

    /// <summary>How many broadcast TLB invalidations are kept for the PEs that have not seen them yet.</summary>
    public const int TlbiRingSize = 64;

    /// <summary>Host clock ticks per counter tick when that is a whole number, else 0.</summary>
    private static readonly ulong TicksPerCount =
        (ulong)Stopwatch.Frequency % CounterFrequency == 0 ? (ulong)Stopwatch.Frequency / CounterFrequency : 0;

    private readonly (int Op2, ulong Operand)[] _tlbiRing = new (int, ulong)[TlbiRingSize];
    private long _tlbEpoch;
    private Func<long>? _timestamp;

    /// <summary>The host timestamp at which the system counter reads 0 (earlier than the VM's start after <see cref="SetCounter"/>).</summary>
    public long CounterOrigin { get; private set; } = Stopwatch.GetTimestamp();

    /// <summary>
    /// Makes the system counter read <paramref name="count"/> now and go on from there (a restored snapshot
    /// continues the counter it was saved with, as KVM's CNTVOFF adjustment keeps it monotonic for the guest).
    /// </summary>
    public void SetCounter(ulong count)
    {
        UInt128 ticks = (UInt128)count * (ulong)Stopwatch.Frequency / CounterFrequency;
        CounterOrigin = Now() - (long)(ulong)UInt128.Min(ticks, (ulong)(long.MaxValue / 4));
    }

    /// <summary>
    /// Makes the counter count <paramref name="timestamp"/>'s time (<see cref="Stopwatch"/> ticks of a virtual
    /// clock, for deterministic execution) instead of the host's, from 0 now.
    /// </summary>
    public void UseTimestamp(Func<long> timestamp)
    {
        ArgumentNullException.ThrowIfNull(timestamp);
        _timestamp = timestamp;
        CounterOrigin = timestamp();
    }

    /// <summary>The time the counter counts, in <see cref="Stopwatch"/> ticks (the timers' deadlines are in it too).</summary>
    public long Now() => _timestamp is { } virtualTime ? virtualTime() : Stopwatch.GetTimestamp();

    /// <summary>The allocation tags of the VM's memory (FEAT_MTE2), allocated on the first tag store.</summary>
    internal Mte.MemoryTagStore Tags { get; } = new();

    /// <summary>Whether a PE ever stored an allocation tag (FEAT_MTE2): a snapshot does not hold tags, so it refuses such a VM.</summary>
    public bool MemoryTagsInUse => Tags.InUse;

    /// <summary>
    /// The word of the spin lock that serialises the 128-bit pair accesses (CASP, LDXP and STXP of two doublewords:
    /// no 128-bit compare-and-swap in .NET), 0 free and 1 held: the interpreter's handlers take it through
    /// <see cref="EnterPair"/> and native code with an XCHG (X64Lowering.Atomics.cs), so the two are atomic with each other.
    /// Pinned (native code holds its address), alone in its cache line.
    /// </summary>
    private readonly long[] _pairSpin = GC.AllocateArray<long>(8, pinned: true);

    /// <summary>The address of the pair lock's word (<see cref="_pairSpin"/>), for native code.</summary>
    internal unsafe int* PairSpin => (int*)Unsafe.AsPointer(ref _pairSpin[0]);

    /// <summary>Takes the pair lock (a full barrier), spinning while another PE or native code holds it.</summary>
    internal unsafe void EnterPair()
    {
        ref int word = ref *PairSpin;
        if (Interlocked.Exchange(ref word, 1) != 0)
        {
            var spin = default(SpinWait);
            do
            {
                spin.SpinOnce();
            }
            while (Volatile.Read(ref word) != 0 || Interlocked.Exchange(ref word, 1) != 0);
        }
    }

    /// <summary>Releases the pair lock (a full barrier, as native code's XCHG).</summary>
    internal unsafe void ExitPair() => Interlocked.Exchange(ref *PairSpin, 0);

    /// <summary>The broadcast TLB invalidation epoch.</summary>
    public long TlbEpoch => Volatile.Read(ref _tlbEpoch);

    /// <summary>Serialises recording and replaying broadcast TLB invalidations.</summary>
    public object TlbiLock { get; } = new();

    private readonly List<Arm64Cpu> _pes = [];

    /// <summary>Adds a PE of the VM (its native code is asked to stop at every broadcast invalidation).</summary>
    public void Register(Arm64Cpu pe)
    {
        lock (TlbiLock)
        {
            _pes.Add(pe);
        }
    }

    /// <summary>
    /// Records a broadcast TLB invalidation (the TLBI's op2 and its Xt operand) and returns the new epoch;
    /// native code running on the other PEs returns to its run loop, which replays it.
    /// </summary>
    public long BroadcastTlbi(int op2, ulong operand)
    {
        lock (TlbiLock)
        {
            long epoch = _tlbEpoch + 1;
            _tlbiRing[epoch & (TlbiRingSize - 1)] = (op2, operand);
            Volatile.Write(ref _tlbEpoch, epoch);
            foreach (Arm64Cpu pe in _pes)
            {
                pe.RequestExit();
            }

            return epoch;
        }
    }

    /// <summary>The broadcast invalidation of <paramref name="epoch"/> (call under <see cref="TlbiLock"/>, within the ring).</summary>
    public (int Op2, ulong Operand) TlbiAt(long epoch) => _tlbiRing[epoch & (TlbiRingSize - 1)];

    /// <summary>The system counter now (CNTPCT_EL0).</summary>
    public ulong Counter()
    {
        long delta = Now() - CounterOrigin;

        // Where the host clock ticks a whole number of times per counter tick (Linux: 1 GHz against 62.5 MHz), the
        // same floor(delta * f / host) as one division by that number, not a 128-bit one (a guest reads the counter often).
        return TicksPerCount != 0
            ? (ulong)delta / TicksPerCount
            : (ulong)((UInt128)(ulong)delta * CounterFrequency / (ulong)Stopwatch.Frequency);
    }

    /// <summary>The timestamp (of <see cref="Now"/>) at which the counter reaches <paramref name="count"/>.</summary>
    public long TimestampOf(ulong count)
    {
        UInt128 ticks = (UInt128)count * (ulong)Stopwatch.Frequency / CounterFrequency;
        if (ticks > (ulong)(long.MaxValue - Math.Max(CounterOrigin, 0)))
        {
            return long.MaxValue;
        }

        return CounterOrigin + (long)(ulong)ticks;
    }
}

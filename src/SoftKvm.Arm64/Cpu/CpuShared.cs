using System.Diagnostics;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// State the PEs of one VM share: the system counter's origin, the broadcast-TLBI epoch (a TLBI ...IS
/// on one PE bumps it; every PE compares it before each instruction and flushes its software TLB), and
/// the lock that serialises 128-bit exclusive pairs.
/// </summary>
internal sealed class CpuShared
{
    /// <summary>The generic timer frequency (CNTFRQ_EL0): 62.5 MHz, as QEMU's virt machine.</summary>
    public const ulong CounterFrequency = 62_500_000;

    private long _tlbEpoch;

    /// <summary>The host timestamp at which the system counter reads 0.</summary>
    public long CounterOrigin { get; } = Stopwatch.GetTimestamp();

    /// <summary>Serialises STXP of two doublewords (no 128-bit compare-and-swap on the host).</summary>
    public object PairLock { get; } = new();

    /// <summary>The broadcast TLB invalidation epoch.</summary>
    public long TlbEpoch => Volatile.Read(ref _tlbEpoch);

    /// <summary>Records a broadcast TLB invalidation and returns the new epoch.</summary>
    public long BroadcastTlbFlush() => Interlocked.Increment(ref _tlbEpoch);

    /// <summary>The system counter now (CNTPCT_EL0).</summary>
    public ulong Counter()
    {
        long delta = Stopwatch.GetTimestamp() - CounterOrigin;
        return (ulong)((UInt128)(ulong)delta * CounterFrequency / (ulong)Stopwatch.Frequency);
    }

    /// <summary>The host timestamp at which the counter reaches <paramref name="count"/>.</summary>
    public long TimestampOf(ulong count)
    {
        UInt128 ticks = (UInt128)count * (ulong)Stopwatch.Frequency / CounterFrequency;
        if (ticks > (ulong)(long.MaxValue - CounterOrigin))
        {
            return long.MaxValue;
        }

        return CounterOrigin + (long)(ulong)ticks;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Stats;

/// <summary>
/// The counters of one vCPU or VM. Each counter has a single writer (its vCPU thread) or is updated
/// with <see cref="Add"/>; readers on other threads see whole 64-bit values. Reading never changes a
/// counter; a counter can only be cleared to 0, as with KVM's debugfs. The counters sit in memory that never
/// moves, so that a vCPU's generated code can count an exit it completes itself (<see cref="AddressOf"/>).
/// </summary>
public sealed unsafe class StatsBlock
{
    private readonly long[] _values;
    private GCHandle _pin;

    /// <summary>Creates zeroed counters for <paramref name="schema"/>.</summary>
    public StatsBlock(StatsSchema schema)
    {
        Schema = schema;
        _values = new long[schema.Descriptors.Count];
        _pin = GCHandle.Alloc(_values, GCHandleType.Pinned); // in place: where the counters were before they were pinned
    }

    /// <summary>Unpins the counters.</summary>
    ~StatsBlock() => _pin.Free();

    /// <summary>
    /// Where counter <paramref name="id"/> lives, for generated code that increments it on the counter's owner thread
    /// (a vCPU's native code completing an exit without leaving it, issue 19); valid as long as this block is.
    /// </summary>
    public long* AddressOf(int id) => (long*)Unsafe.AsPointer(ref _values[id]);

    /// <summary>What the counters are.</summary>
    public StatsSchema Schema { get; }

    /// <summary>Adds 1 to counter <paramref name="id"/> (owner thread only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(int id) => _values[id]++;

    /// <summary>Adds <paramref name="delta"/> to counter <paramref name="id"/> from any thread.</summary>
    public void Add(int id, long delta) => Interlocked.Add(ref _values[id], delta);

    /// <summary>Sets an instant counter.</summary>
    public void Set(int id, long value) => Volatile.Write(ref _values[id], value);

    /// <summary>Raises a peak counter to <paramref name="value"/> if it is higher.</summary>
    public void UpdatePeak(int id, long value)
    {
        long seen = Volatile.Read(ref _values[id]);
        while (value > seen)
        {
            long prior = Interlocked.CompareExchange(ref _values[id], value, seen);
            if (prior == seen)
            {
                return;
            }

            seen = prior;
        }
    }

    /// <summary>The value of counter <paramref name="id"/>.</summary>
    public ulong this[int id] => (ulong)Volatile.Read(ref _values[id]);

    /// <summary>The value of the counter named <paramref name="name"/>.</summary>
    /// <exception cref="StatsException">no such counter.</exception>
    public ulong this[string name] => this[IndexOrThrow(name)];

    /// <summary>Clears counter <paramref name="name"/>; any value other than 0 is rejected.</summary>
    /// <exception cref="StatsException">no such counter, or a non-zero value.</exception>
    public void Write(string name, ulong value)
    {
        int id = IndexOrThrow(name);
        if (value != 0)
        {
            throw new StatsException($"statistic '{name}' can only be cleared to 0, not set to {value}");
        }

        Volatile.Write(ref _values[id], 0);
    }

    private int IndexOrThrow(string name)
    {
        int id = Schema.IndexOf(name);
        return id >= 0 ? id : throw new StatsException($"no statistic named '{name}'");
    }
}

/// <summary>A statistics request names no counter or tries to set one to a non-zero value.</summary>
public sealed class StatsException(string message) : SoftKvmException(message);

namespace SoftKvm.Core.Io;

/// <summary>
/// A counter that one side signals and another side waits on or drains, like Linux's eventfd. Used
/// by <see cref="IoEvent"/> (ioeventfd: a guest write signals it without an exit) and by irqfd-style
/// interrupt injection. Thread-safe; <see cref="Signal"/> never blocks.
/// </summary>
public sealed class EventFd : IDisposable
{
    private readonly ManualResetEventSlim _ready = new(false);
    private long _count;

    /// <summary>
    /// Runs on the signalling thread after each signal (for example a vCPU thread in the middle of
    /// guest execution): keep it short and non-blocking.
    /// </summary>
    public event Action<EventFd>? Signaled;

    /// <summary>The current count, without draining it.</summary>
    public ulong Count => (ulong)Interlocked.Read(ref _count);

    /// <summary>A handle that is set while the count is non-zero.</summary>
    public WaitHandle WaitHandle => _ready.WaitHandle;

    /// <summary>Adds <paramref name="value"/> to the count and wakes waiters.</summary>
    public void Signal(ulong value = 1)
    {
        Interlocked.Add(ref _count, (long)value);
        _ready.Set();
        Signaled?.Invoke(this);
    }

    /// <summary>Returns the count and resets it to zero (a non-blocking eventfd read); 0 when unsignalled.</summary>
    public ulong Drain()
    {
        _ready.Reset();
        ulong value = (ulong)Interlocked.Exchange(ref _count, 0);
        if (Interlocked.Read(ref _count) != 0)
        {
            _ready.Set();
        }

        return value;
    }

    /// <summary>Waits until the count is non-zero; returns false on timeout.</summary>
    public bool Wait(TimeSpan timeout) => Interlocked.Read(ref _count) != 0 || _ready.Wait(timeout);

    /// <inheritdoc />
    public void Dispose() => _ready.Dispose();
}

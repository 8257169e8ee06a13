namespace SoftKvm.Vmm.Runner;

/// <summary>
/// Copies bytes from an input stream (standard input) to the guest's console on a background thread.
/// The sink returns how many bytes it took; the rest wait and are offered again, so a full UART FIFO
/// applies back-pressure instead of losing input. Stops at end of stream or on <see cref="Dispose"/>.
/// </summary>
public sealed class InputPump : IDisposable
{
    /// <summary>Takes bytes for the guest and returns how many it accepted.</summary>
    public delegate int InputSink(ReadOnlySpan<byte> data);

    private readonly Stream _input;
    private readonly InputSink _sink;
    private readonly ConsoleEscape? _escape;
    private readonly Thread _thread;
    private volatile bool _stopping;

    /// <summary>
    /// Starts pumping <paramref name="input"/> into <paramref name="sink"/>; with <paramref name="escape"/>
    /// (an interactive terminal) the input goes through the Ctrl-A commands first.
    /// </summary>
    public InputPump(Stream input, InputSink sink, ConsoleEscape? escape = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(sink);
        _input = input;
        _sink = sink;
        _escape = escape;
        _thread = new Thread(Pump) { IsBackground = true, Name = "console-input" };
        _thread.Start();
    }

    /// <summary>Bytes delivered to the guest so far.</summary>
    public long Delivered { get; private set; }

    /// <summary>Whether the input has ended (end of stream or error).</summary>
    public bool Ended { get; private set; }

    /// <summary>Waits up to <paramref name="timeout"/> for the input to end (tests).</summary>
    public bool WaitForEnd(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>Stops delivering; a blocked read of a terminal ends with the process.</summary>
    public void Dispose() => _stopping = true;

    private void Pump()
    {
        var read = new byte[256];
        var filtered = new byte[read.Length + 1];
        try
        {
            while (!_stopping)
            {
                int n = _input.Read(read, 0, read.Length);
                if (n <= 0)
                {
                    break;
                }

                byte[] buffer = read;
                if (_escape is not null)
                {
                    n = _escape.Filter(read.AsSpan(0, n), filtered);
                    buffer = filtered;
                }

                int offset = 0;
                while (offset < n && !_stopping)
                {
                    int taken = _sink(buffer.AsSpan(offset, n - offset));
                    offset += taken;
                    Delivered += taken;
                    if (taken == 0)
                    {
                        Thread.Sleep(5); // the guest has not drained its FIFO yet
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            // The input went away: nothing more to deliver.
        }

        Ended = true;
    }
}

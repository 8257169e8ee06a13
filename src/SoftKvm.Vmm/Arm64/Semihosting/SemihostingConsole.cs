using SoftKvm.Devices;

namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>
/// The semihosting console: output (SYS_WRITEC, SYS_WRITE0, SYS_WRITE to ":tt" opened for writing) goes to the
/// machine's console output; output to ":tt" opened for appending (the spec's SH_EXT_STDOUT_STDERR "stderr") to
/// the diagnostics writer; input (SYS_READC, SYS_READ of ":tt" opened for reading) comes from the machine's
/// console input, which goes here rather than to the UART while semihosting is on. A read waits for input.
/// </summary>
internal sealed class SemihostingConsole(SerialOutput output, TextWriter errors)
{
    private const int Capacity = 4096;
    private readonly Queue<byte> _input = new();
    private readonly object _lock = new();

    /// <summary>Writes guest bytes to the console output.</summary>
    public void Write(ReadOnlySpan<byte> data) => output.Write(data);

    /// <summary>Writes guest bytes to the diagnostics (":tt" opened for appending).</summary>
    public void WriteError(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            errors.Write(System.Text.Encoding.UTF8.GetString(data));
            errors.Flush();
        }
    }

    /// <summary>Console input for the guest; returns how many bytes were taken (the rest is offered again).</summary>
    public int Offer(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            int n = Math.Min(data.Length, Capacity - _input.Count);
            foreach (byte b in data[..n])
            {
                _input.Enqueue(b);
            }

            if (n > 0)
            {
                Monitor.PulseAll(_lock);
            }

            return n;
        }
    }

    /// <summary>Waits for input, then takes what is there up to <paramref name="destination"/>'s length; 0 when <paramref name="stopping"/> ended the wait.</summary>
    public int Read(Span<byte> destination, CancellationToken stopping)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        using var wake = stopping.Register(() =>
        {
            lock (_lock)
            {
                Monitor.PulseAll(_lock);
            }
        });
        lock (_lock)
        {
            while (_input.Count == 0)
            {
                if (stopping.IsCancellationRequested)
                {
                    return 0;
                }

                Monitor.Wait(_lock);
            }

            int n = Math.Min(destination.Length, _input.Count);
            for (int i = 0; i < n; i++)
            {
                destination[i] = _input.Dequeue();
            }

            return n;
        }
    }
}

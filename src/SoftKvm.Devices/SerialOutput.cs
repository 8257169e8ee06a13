using System.Runtime.InteropServices;

namespace SoftKvm.Devices;

/// <summary>
/// Where guest console bytes go (the PL011, the 16550A and virtio-console share one): a stream written
/// under a lock so that bytes from several vCPU threads never interleave inside one write, flushed after
/// every write so that interactive output appears at once.
/// </summary>
public sealed class SerialOutput
{
    private readonly object _lock = new();
    private readonly Stream _stream;

    /// <summary>Sends guest output to <paramref name="stream"/> (for example standard output), untouched.</summary>
    public SerialOutput(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
    }

    /// <summary>The number of bytes written so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Writes one byte.</summary>
    public void Write(byte value) => Write(MemoryMarshal.CreateReadOnlySpan(ref value, 1));

    /// <summary>Writes <paramref name="data"/>.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _stream.Write(data);
            _stream.Flush();
            BytesWritten += data.Length;
        }
    }
}

using SoftKvm.Core.Memory;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// virtio-console with one port (virtio 1.2 section 5.3): transmitq bytes go to a
/// <see cref="SerialOutput"/> (the same sink as the UART), input from the VMM (<see cref="Receive"/>)
/// fills the driver's receiveq buffers, and VIRTIO_CONSOLE_F_EMERG_WRITE lets early code write through
/// the configuration space.
/// </summary>
public sealed class VirtioConsole : VirtioDevice
{
    private const int ReceiveQueue = 0;
    private const int TransmitQueue = 1;
    private const ulong FeatureEmergWrite = 1UL << 2;
    private const int ConfigEmergWr = 8;
    private const int PendingLimit = 64 * 1024;

    private readonly SerialOutput _output;
    private readonly Queue<byte> _pending = new();
    private readonly byte[] _copy = new byte[4096];

    /// <summary>Creates the console; transmitted bytes go to <paramref name="output"/>.</summary>
    public VirtioConsole(SerialOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <inheritdoc />
    internal override uint DeviceId => 3;

    /// <inheritdoc />
    internal override ulong DeviceFeatures => FeatureEmergWrite;

    /// <inheritdoc />
    internal override int QueueCount => 2;

    /// <summary>
    /// Offers input bytes to the guest; returns how many were taken (at most 64 KiB wait for receive
    /// buffers; the caller retries the rest later). Delivered at once when the driver has buffers posted.
    /// </summary>
    /// <exception cref="InvalidOperationException">the console is not behind a transport.</exception>
    public int Receive(ReadOnlySpan<byte> data)
    {
        var transport = Transport ?? throw new InvalidOperationException("virtio-console is not attached to a transport");
        lock (transport.SyncRoot)
        {
            int taken = 0;
            foreach (byte b in data)
            {
                if (_pending.Count >= PendingLimit)
                {
                    break;
                }

                _pending.Enqueue(b);
                taken++;
            }

            transport.Serve(ReceiveQueue);
            return taken;
        }
    }

    /// <inheritdoc />
    internal override void ReadConfig(ulong offset, Span<byte> data)
    {
        // cols, rows (only with F_SIZE, not offered), max_nr_ports (only with F_MULTIPORT, not offered), emerg_wr.
        Span<byte> image = stackalloc byte[12];
        image.Clear();
        ReadConfigImage(image, offset, data);
    }

    /// <inheritdoc />
    internal override void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == ConfigEmergWr && !data.IsEmpty)
        {
            _output.Write(data[0]);
        }
    }

    /// <inheritdoc />
    internal override void OnNotify(GuestMemory memory, int queue)
    {
        if (queue == TransmitQueue)
        {
            Transmit(memory);
        }
        else if (queue == ReceiveQueue)
        {
            Deliver(memory);
        }
    }

    /// <inheritdoc />
    internal override void OnDriverOk(GuestMemory memory) => Deliver(memory);

    /// <inheritdoc />
    internal override void OnReset() => _pending.Clear();

    private void Transmit(GuestMemory memory)
    {
        var transport = Transport!;
        var q = transport.ReadyQueue(TransmitQueue);
        if (q is null)
        {
            return;
        }

        bool used = false;
        while (q.TryPop(memory, out ushort head))
        {
            long total = ChainIo.Length(q.Chain, writable: false);
            long done = 0;
            while (done < total)
            {
                int n = ChainIo.Read(memory, q.Chain, done, _copy.AsSpan(0, (int)Math.Min(_copy.Length, total - done)));
                if (n == 0)
                {
                    break;
                }

                _output.Write(_copy.AsSpan(0, n));
                done += n;
            }

            q.PushUsed(memory, head, 0);
            used = true;
        }

        if (used)
        {
            transport.SignalUsed(q);
        }
    }

    private void Deliver(GuestMemory memory)
    {
        var transport = Transport!;
        var q = transport.ReadyQueue(ReceiveQueue);
        if (q is null || _pending.Count == 0)
        {
            return;
        }

        bool used = false;
        while (_pending.Count > 0 && q.TryPop(memory, out ushort head))
        {
            int room = (int)Math.Min(ChainIo.Length(q.Chain, writable: true), _copy.Length);
            int n = 0;
            while (n < room && _pending.Count > 0)
            {
                _copy[n++] = _pending.Dequeue();
            }

            int written = ChainIo.Write(memory, q.Chain, 0, _copy.AsSpan(0, n));
            q.PushUsed(memory, head, (uint)written);
            used = true;
        }

        if (used)
        {
            transport.SignalUsed(q);
        }
    }
}

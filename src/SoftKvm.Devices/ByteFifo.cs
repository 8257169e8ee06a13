namespace SoftKvm.Devices;

/// <summary>A fixed-capacity byte FIFO (a UART's receive FIFO); not thread-safe, the device's lock guards it.</summary>
internal sealed class ByteFifo
{
    private readonly byte[] _buffer;
    private int _head;

    /// <summary>Creates an empty FIFO of <paramref name="capacity"/> bytes.</summary>
    public ByteFifo(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _buffer = new byte[capacity];
    }

    /// <summary>The number of bytes the FIFO can hold.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The number of bytes held.</summary>
    public int Count { get; private set; }

    /// <summary>Whether no byte is held.</summary>
    public bool IsEmpty => Count == 0;

    /// <summary>Whether <paramref name="limit"/> bytes (or the capacity) are held.</summary>
    public bool IsFull(int limit) => Count >= Math.Min(limit, _buffer.Length);

    /// <summary>Appends a byte; false when already <paramref name="limit"/> bytes are held.</summary>
    public bool TryPush(byte value, int limit)
    {
        if (IsFull(limit))
        {
            return false;
        }

        _buffer[(_head + Count) % _buffer.Length] = value;
        Count++;
        return true;
    }

    /// <summary>Removes the oldest byte; 0 when empty.</summary>
    public byte Pop()
    {
        if (Count == 0)
        {
            return 0;
        }

        byte value = _buffer[_head];
        _head = (_head + 1) % _buffer.Length;
        Count--;
        return value;
    }

    /// <summary>Drops every byte.</summary>
    public void Clear()
    {
        _head = 0;
        Count = 0;
    }

    /// <summary>The bytes held, oldest first (for saving device state).</summary>
    public byte[] ToArray()
    {
        var result = new byte[Count];
        for (int i = 0; i < Count; i++)
        {
            result[i] = _buffer[(_head + i) % _buffer.Length];
        }

        return result;
    }

    /// <summary>Replaces the contents (restoring device state); bytes beyond the capacity are dropped.</summary>
    public void Load(ReadOnlySpan<byte> bytes)
    {
        Clear();
        foreach (byte b in bytes)
        {
            if (!TryPush(b, _buffer.Length))
            {
                break;
            }
        }
    }
}

using SoftKvm.Core.Memory;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// A split virtqueue (virtio 1.2 section 2.7): the descriptor table, the driver (available) ring and the
/// device (used) ring in guest memory. The device pops available chains into a reused descriptor array
/// (no allocation per request) and pushes used elements. Guarded by the transport's lock.
/// </summary>
internal sealed class Virtqueue
{
    private const ushort AvailNoInterrupt = 1;

    private readonly VirtqDescriptor[] _chain;
    private ushort _lastAvail;
    private ushort _usedIdx;

    public Virtqueue(ushort maxSize)
    {
        MaxSize = maxSize;
        _chain = new VirtqDescriptor[maxSize];
        Reset();
    }

    public ushort MaxSize { get; }

    public ushort Size { get; set; }

    public bool Ready { get; set; }

    public ulong DescTable { get; set; }

    public ulong DriverArea { get; set; }

    public ulong DeviceArea { get; set; }

    /// <summary>The descriptors of the chain returned by the last <see cref="TryPop"/>.</summary>
    public ReadOnlySpan<VirtqDescriptor> Chain => _chain.AsSpan(0, ChainLength);

    public int ChainLength { get; private set; }

    public ushort LastAvail => _lastAvail;

    public ushort UsedIndex => _usedIdx;

    public void Reset()
    {
        Size = MaxSize;
        Ready = false;
        DescTable = DriverArea = DeviceArea = 0;
        _lastAvail = 0;
        _usedIdx = 0;
        ChainLength = 0;
    }

    /// <summary>Restores the ring positions (device state restore).</summary>
    public void RestorePositions(ushort lastAvail, ushort usedIndex)
    {
        _lastAvail = lastAvail;
        _usedIdx = usedIndex;
    }

    /// <summary>Checks what the driver set up before it marks the queue ready (section 2.7 alignment, power-of-two size).</summary>
    public void Validate()
    {
        if (Size == 0 || Size > MaxSize || (Size & (Size - 1)) != 0)
        {
            throw new VirtqueueException($"queue size {Size} is not a power of two in 1..{MaxSize}");
        }

        if ((DescTable & 15) != 0 || (DriverArea & 1) != 0 || (DeviceArea & 3) != 0)
        {
            throw new VirtqueueException("virtqueue rings are misaligned");
        }
    }

    /// <summary>Takes the next available chain into <see cref="Chain"/>; false when the driver has offered none.</summary>
    public bool TryPop(GuestMemory memory, out ushort head)
    {
        head = 0;
        ushort availIdx = memory.Read<ushort>(DriverArea + 2);
        if (availIdx == _lastAvail)
        {
            return false;
        }

        if ((ushort)(availIdx - _lastAvail) > Size)
        {
            throw new VirtqueueException($"available index moved by {(ushort)(availIdx - _lastAvail)}, more than the queue size {Size}");
        }

        Interlocked.MemoryBarrier(); // read the ring entry only after the index that published it
        head = memory.Read<ushort>(DriverArea + 4 + (2UL * (ulong)(_lastAvail % Size)));
        _lastAvail++;
        ushort index = head;
        int count = 0;
        while (true)
        {
            if (index >= Size)
            {
                throw new VirtqueueException($"descriptor index {index} is outside the queue of {Size}");
            }

            if (count == Size)
            {
                throw new VirtqueueException("descriptor chain loops");
            }

            ulong at = DescTable + (16UL * index);
            var d = new VirtqDescriptor(memory.Read<ulong>(at), memory.Read<uint>(at + 8), memory.Read<ushort>(at + 12), memory.Read<ushort>(at + 14));
            if ((d.Flags & VirtqDescriptor.FlagIndirect) != 0)
            {
                throw new VirtqueueException("indirect descriptor used but VIRTIO_F_INDIRECT_DESC was not offered");
            }

            _chain[count++] = d;
            if ((d.Flags & VirtqDescriptor.FlagNext) == 0)
            {
                break;
            }

            index = d.Next;
        }

        ChainLength = count;
        return true;
    }

    /// <summary>Returns chain <paramref name="head"/> to the driver with <paramref name="written"/> bytes written.</summary>
    public void PushUsed(GuestMemory memory, ushort head, uint written)
    {
        ulong elem = DeviceArea + 4 + (8UL * (ulong)(_usedIdx % Size));
        memory.Write(elem, (uint)head);
        memory.Write(elem + 4, written);
        _usedIdx++;
        Interlocked.MemoryBarrier(); // the element is visible before the index that publishes it
        memory.Write(DeviceArea + 2, _usedIdx);
    }

    /// <summary>Whether the driver asked for no interrupt (VIRTQ_AVAIL_F_NO_INTERRUPT).</summary>
    public bool InterruptSuppressed(GuestMemory memory) => (memory.Read<ushort>(DriverArea) & AvailNoInterrupt) != 0;
}

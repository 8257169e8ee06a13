using SoftKvm.Core.Memory;
using SoftKvm.Devices.Virtio;

namespace SoftKvm.Devices.Tests.Virtio;

/// <summary>A minimal virtio-mmio driver over guest memory, for register-level tests.</summary>
internal sealed class VirtioDriver : IDisposable
{
    public const ulong Ram = 0x4000_0000;
    public const ushort QueueSize = 8;

    private readonly Dictionary<int, (ulong Desc, ulong Avail, ulong Used, ushort AvailIdx, ushort NextDesc)> _queues = new();

    public VirtioDriver(VirtioDevice device)
    {
        Memory = new GuestMemory();
        Memory.SetRegion(0, Ram, 1 << 20, MemorySlotFlags.None);
        Transport = new VirtioMmioTransport(device, Memory, Irq);
    }

    public GuestMemory Memory { get; }

    public FakeIrqLine Irq { get; } = new();

    public VirtioMmioTransport Transport { get; }

    public uint Reg(ulong offset) => Io.Read32(Transport, offset);

    public void SetReg(ulong offset, uint value) => Io.Write32(Transport, offset, value);

    public ulong DeviceFeatures()
    {
        SetReg(0x014, 0);
        ulong lo = Reg(0x010);
        SetReg(0x014, 1);
        return lo | ((ulong)Reg(0x010) << 32);
    }

    /// <summary>Reset, ACK, DRIVER, features (all offered unless given), FEATURES_OK, queues, DRIVER_OK.</summary>
    public bool Initialise(int queues, ulong? features = null)
    {
        SetReg(0x070, 0);
        SetReg(0x070, 1);
        SetReg(0x070, 3);
        ulong f = features ?? DeviceFeatures();
        SetReg(0x024, 0);
        SetReg(0x020, (uint)f);
        SetReg(0x024, 1);
        SetReg(0x020, (uint)(f >> 32));
        SetReg(0x070, 11);
        if ((Reg(0x070) & 8) == 0)
        {
            return false;
        }

        for (int q = 0; q < queues; q++)
        {
            ulong baseAddr = Ram + 0x1000 + ((ulong)q * 0x1000);
            SetupQueue(q, baseAddr, baseAddr + 0x100, baseAddr + 0x200);
        }

        SetReg(0x070, 15);
        return true;
    }

    public void SetupQueue(int q, ulong desc, ulong avail, ulong used)
    {
        SetReg(0x030, (uint)q);
        SetReg(0x038, QueueSize);
        SetReg(0x080, (uint)desc);
        SetReg(0x084, (uint)(desc >> 32));
        SetReg(0x090, (uint)avail);
        SetReg(0x094, (uint)(avail >> 32));
        SetReg(0x0A0, (uint)used);
        SetReg(0x0A4, (uint)(used >> 32));
        SetReg(0x044, 1);
        _queues[q] = (desc, avail, used, 0, 0);
    }

    /// <summary>Posts a chain of (address, length, writable) buffers; returns the head index.</summary>
    public ushort Post(int q, params (ulong Address, uint Length, bool Writable)[] buffers)
    {
        var s = _queues[q];
        ushort head = s.NextDesc;
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort index = (ushort)((s.NextDesc + i) % QueueSize);
            ulong at = s.Desc + (16UL * index);
            ushort flags = (ushort)((i + 1 < buffers.Length ? 1 : 0) | (buffers[i].Writable ? 2 : 0));
            Memory.Write(at, buffers[i].Address);
            Memory.Write(at + 8, buffers[i].Length);
            Memory.Write(at + 12, flags);
            Memory.Write(at + 14, (ushort)((index + 1) % QueueSize));
        }

        Memory.Write(s.Avail + 4 + (2UL * (ulong)(s.AvailIdx % QueueSize)), head);
        s.AvailIdx++;
        Memory.Write(s.Avail + 2, s.AvailIdx);
        s.NextDesc = (ushort)((s.NextDesc + buffers.Length) % QueueSize);
        _queues[q] = s;
        return head;
    }

    public void Notify(int q) => SetReg(0x050, (uint)q);

    public ushort UsedIdx(int q) => Memory.Read<ushort>(_queues[q].Used + 2);

    public (uint Id, uint Len) Used(int q, int i)
    {
        ulong at = _queues[q].Used + 4 + (8UL * (ulong)(i % QueueSize));
        return (Memory.Read<uint>(at), Memory.Read<uint>(at + 4));
    }

    public byte[] ReadBytes(ulong address, int length)
    {
        var b = new byte[length];
        Memory.Read(address, b);
        return b;
    }

    public void Dispose() => Memory.Dispose();
}

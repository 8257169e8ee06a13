using System.Buffers.Binary;
using SoftKvm.Core.Io;
using SoftKvm.Devices.Pci;

namespace SoftKvm.Devices.Tests.Pci;

/// <summary>
/// A machine for PCI tests: the userspace memory and port buses BARs land on, a "kernel" bus per space
/// that holds the ioeventfds (a guest write goes there first, as in KVM), the MSIs sent and the INTx lines.
/// </summary>
internal sealed class FakePciHost : IPciHost
{
    public IoBus MemorySpace { get; } = new(IoBusKind.Mmio, "user-mmio");

    public IoBus? IoSpace { get; } = new(IoBusKind.Pio, "user-pio");

    public IoBus KernelMemory { get; } = new(IoBusKind.Mmio, "mmio");

    public IoBus KernelIo { get; } = new(IoBusKind.Pio, "pio");

    public List<(ulong Address, uint Data)> Msis { get; } = [];

    public Dictionary<(PciAddress, int), FakeIrqLine> Intx { get; } = [];

    public List<string> Messages { get; } = [];

    public void RegisterIoEvent(IoBusKind space, IoEvent ioEvent) => Kernel(space).RegisterIoEvent(ioEvent);

    public void UnregisterIoEvent(IoBusKind space, IoEvent ioEvent) => Kernel(space).UnregisterIoEvent(ioEvent);

    public List<PciAddress> MsiRequesters { get; } = [];

    public void DeliverMsi(PciAddress requester, ulong address, uint data)
    {
        Msis.Add((address, data));
        MsiRequesters.Add(requester);
    }

    public IIrqLine GetIntxLine(PciAddress address, int pin)
    {
        var line = new FakeIrqLine();
        Intx[(address, pin)] = line;
        return line;
    }

    public void Log(string message) => Messages.Add(message);

    /// <summary>A guest write: the hypervisor's ioeventfds first, then the VMM's devices; false when nothing took it.</summary>
    public bool GuestWrite(IoBusKind space, ulong address, ReadOnlySpan<byte> data) =>
        Kernel(space).Write(null, address, data) || User(space).Write(null, address, data);

    public bool GuestWrite8(IoBusKind space, ulong address, byte value) => GuestWrite(space, address, [value]);

    public uint GuestRead32(IoBusKind space, ulong address)
    {
        Span<byte> b = stackalloc byte[4];
        if (!User(space).Read(null, address, b))
        {
            return uint.MaxValue;
        }

        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public byte GuestRead8(IoBusKind space, ulong address)
    {
        Span<byte> b = stackalloc byte[1];
        return User(space).Read(null, address, b) ? b[0] : (byte)0xFF;
    }

    private IoBus Kernel(IoBusKind space) => space == IoBusKind.Pio ? KernelIo : KernelMemory;

    private IoBus User(IoBusKind space) => space == IoBusKind.Pio ? IoSpace! : MemorySpace;
}

/// <summary>Configuration-space accessors for a function.</summary>
internal static class Config
{
    public static uint Read32(PciDevice f, int offset)
    {
        Span<byte> b = stackalloc byte[4];
        f.ReadConfig(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public static ushort Read16(PciDevice f, int offset)
    {
        Span<byte> b = stackalloc byte[2];
        f.ReadConfig(offset, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public static byte Read8(PciDevice f, int offset)
    {
        Span<byte> b = stackalloc byte[1];
        f.ReadConfig(offset, b);
        return b[0];
    }

    public static void Write32(PciDevice f, int offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        f.WriteConfig(offset, b);
    }

    public static void Write16(PciDevice f, int offset, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        f.WriteConfig(offset, b);
    }

    public static void Write8(PciDevice f, int offset, byte value) => f.WriteConfig(offset, [value]);
}

using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// One implemented base address register: its kind, size and the region behind it, where the guest has
/// mapped it, and the ioeventfds placed in it (they follow the BAR when the guest moves it).
/// </summary>
internal sealed class PciBar
{
    /// <summary>The value of <see cref="MappedAt"/> while the BAR decodes nothing.</summary>
    public const ulong Unmapped = ulong.MaxValue;

    public PciBar(int index, PciBarKind kind, ulong size, bool prefetchable, IIoDevice region)
    {
        Index = index;
        Kind = kind;
        Size = size;
        Prefetchable = prefetchable;
        Window = new BarWindow(region);
    }

    public int Index { get; }

    public PciBarKind Kind { get; }

    public ulong Size { get; }

    public bool Prefetchable { get; }

    /// <summary>The object registered on the bus for this BAR (one per BAR, so it can be unregistered alone).</summary>
    public IIoDevice Window { get; }

    /// <summary>The bus address the BAR decodes at, or <see cref="Unmapped"/>.</summary>
    public ulong MappedAt { get; set; } = Unmapped;

    public IoBusKind Space => Kind == PciBarKind.Io ? IoBusKind.Pio : IoBusKind.Mmio;

    public List<PciBarIoEvent> IoEvents { get; } = [];

    /// <summary>The low bits of the register that say what it is (I/O, 64-bit, prefetchable).</summary>
    public uint TypeBits => Kind switch
    {
        PciBarKind.Io => PciConfigRegisters.BarIoSpace,
        PciBarKind.Memory64 => PciConfigRegisters.BarMemory64 | (Prefetchable ? PciConfigRegisters.BarPrefetchable : 0),
        _ => Prefetchable ? PciConfigRegisters.BarPrefetchable : 0,
    };

    /// <summary>The writable address bits of the register (a 64-bit BAR's upper half in the high word).</summary>
    public ulong AddressMask => Kind == PciBarKind.Io ? ~(Size - 1) & 0xFFFF_FFFCUL
        : Kind == PciBarKind.Memory32 ? ~(Size - 1) & 0xFFFF_FFF0UL
        : ~(Size - 1) & ~0xFUL;

    private sealed class BarWindow(IIoDevice region) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data) => region.Read(vcpu, offset, data);

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data) => region.Write(vcpu, offset, data);
    }
}

/// <summary>An ioeventfd at an offset in a BAR: registered in the hypervisor at the BAR's address plus the offset while the BAR is mapped.</summary>
internal sealed class PciBarIoEvent(int bar, ulong offset, uint length, ulong? dataMatch, EventFd signal)
{
    public int Bar { get; } = bar;

    public ulong Offset { get; } = offset;

    public uint Length { get; } = length;

    public ulong? DataMatch { get; } = dataMatch;

    public EventFd Signal { get; } = signal;

    /// <summary>The ioeventfd registered in the hypervisor now, or null while the BAR is not mapped.</summary>
    public IoEvent? Registered { get; set; }
}

using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices;

/// <summary>
/// A window made of several register blocks (a PCI BAR with virtio-pci's common configuration, ISR,
/// notification and device configuration, or an MSI-X table and its Pending Bit Array; the PC's reset
/// control register among the PCI address ports): an access that lies in one block reaches it at the
/// block's offset; anything else reads as zero and ignores writes.
/// </summary>
public sealed class CompositeRegion : IIoDevice
{
    private (ulong Start, ulong Length, IIoDevice Device)[] _blocks = [];

    /// <summary>Places <paramref name="device"/> on [<paramref name="offset"/>, +<paramref name="length"/>).</summary>
    /// <exception cref="ArgumentException">the block overlaps another.</exception>
    public CompositeRegion Add(ulong offset, ulong length, IIoDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfZero(length);
        foreach (var (start, len, _) in _blocks)
        {
            if (offset < start + len && start < offset + length)
            {
                throw new ArgumentException($"the block at 0x{offset:x} overlaps the block at 0x{start:x}");
            }
        }

        _blocks = [.. _blocks, (offset, length, device)];
        return this;
    }

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        foreach (var (start, length, device) in _blocks)
        {
            if (offset >= start && offset - start + (ulong)data.Length <= length)
            {
                device.Read(vcpu, offset - start, data);
                return;
            }
        }

        data.Clear();
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        foreach (var (start, length, device) in _blocks)
        {
            if (offset >= start && offset - start + (ulong)data.Length <= length)
            {
                device.Write(vcpu, offset - start, data);
                return;
            }
        }
    }
}

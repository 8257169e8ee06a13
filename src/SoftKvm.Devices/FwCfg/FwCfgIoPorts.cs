using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.FwCfg;

/// <summary>
/// fw_cfg's x86 port interface, as QEMU's <c>pc</c> places it (12 ports from 0x510): the selector at 0x510
/// (a 16-bit little-endian write selects), the data register at 0x511 (a byte read returns the next byte;
/// as in QEMU, a byte read at 0x510 does too, and byte writes are ignored), and the 64-bit big-endian DMA
/// address register at 0x514-0x51B: a 32-bit write at 0x514 sets its upper half, one at 0x518 its lower
/// half and starts the transfer. Reading the DMA register returns "QEMU CFG" (big-endian), by which a
/// guest detects DMA. Ports 0x512-0x513 are not decoded (read all ones).
/// </summary>
/// <param name="device">The items and transfer state.</param>
public sealed partial class FwCfgIoPorts(FwCfgDevice device) : IIoDevice
{
    /// <summary>The selector port.</summary>
    public const ushort SelectorPort = 0x510;

    /// <summary>The ports to register from <see cref="SelectorPort"/>.</summary>
    public const ulong PortCount = 12;

    /// <summary>"QEMU CFG", what a read of the DMA address register returns (big-endian).</summary>
    public const ulong DmaSignature = 0x5145_4D55_2043_4647;

    private const ulong DmaOffset = 4;

    private readonly object _lock = new();
    private ulong _dmaAddress;

    /// <inheritdoc />
    public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
    {
        if (offset < 2)
        {
            data.Clear();
            if (data.Length == 1)
            {
                data[0] = device.ReadByte();
            }

            return;
        }

        if (offset < DmaOffset)
        {
            data.Fill(0xFF);
            return;
        }

        Span<byte> signature = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(signature, DmaSignature);
        int at = (int)(offset - DmaOffset);
        data.Clear();
        signature[at..][..Math.Min(data.Length, 8 - at)].CopyTo(data);
    }

    /// <inheritdoc />
    public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == 0 && data.Length == 2)
        {
            device.Select(BinaryPrimitives.ReadUInt16LittleEndian(data));
            return;
        }

        if (offset < DmaOffset || data.Length != 4 || (offset - DmaOffset) % 4 != 0)
        {
            return; // data writes are ignored (QEMU 2.4+); the DMA register takes 32-bit halves
        }

        uint half = BinaryPrimitives.ReadUInt32BigEndian(data);
        ulong start;
        lock (_lock)
        {
            if (offset == DmaOffset)
            {
                _dmaAddress = (_dmaAddress & 0xFFFF_FFFF) | ((ulong)half << 32);
                return;
            }

            start = (_dmaAddress & 0xFFFF_FFFF_0000_0000) | half;
            _dmaAddress = 0; // 0 after an operation
        }

        device.Dma(start);
    }
}

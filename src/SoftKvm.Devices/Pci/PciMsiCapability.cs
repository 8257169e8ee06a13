using System.Buffers.Binary;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// The MSI capability (PCI Local Bus Specification 3.0, section 6.8.1) in its 64-bit form with per-vector
/// masking: Message Control, Message Address (low, high), Message Data, Mask Bits, Pending Bits. The
/// function may send 1, 2, 4, ... 32 vectors (Multiple Message Capable); vector <c>n</c> replaces the low
/// bits of the data the driver programmed, as many as Multiple Message Enable allows. A masked vector
/// sets its pending bit and is sent when unmasked. Lives in its function's configuration space; every
/// member runs under the function's lock.
/// </summary>
internal sealed class PciMsiCapability
{
    public const int Length = 24;

    // Offsets from the capability's start.
    public const int Control = 2;
    public const int AddressLow = 4;
    public const int AddressHigh = 8;
    public const int Data = 12;
    public const int MaskBits = 16;
    public const int PendingBits = 20;

    public const ushort ControlEnable = 1 << 0;
    public const ushort Control64Bit = 1 << 7;
    public const ushort ControlPerVectorMask = 1 << 8;

    private readonly byte[] _config;

    public PciMsiCapability(byte[] config, byte[] writeMask, int offset, int vectors)
    {
        if (vectors is < 1 or > 32 || (vectors & (vectors - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(vectors), vectors, "MSI sends 1, 2, 4, 8, 16 or 32 vectors");
        }

        _config = config;
        Offset = offset;
        Vectors = vectors;
        int mmc = System.Numerics.BitOperations.Log2((uint)vectors);
        BinaryPrimitives.WriteUInt16LittleEndian(config.AsSpan(offset + Control), (ushort)((mmc << 1) | Control64Bit | ControlPerVectorMask));
        BinaryPrimitives.WriteUInt16LittleEndian(writeMask.AsSpan(offset + Control), (ushort)(ControlEnable | (7 << 4)));
        BinaryPrimitives.WriteUInt32LittleEndian(writeMask.AsSpan(offset + AddressLow), 0xFFFF_FFFC);
        BinaryPrimitives.WriteUInt32LittleEndian(writeMask.AsSpan(offset + AddressHigh), 0xFFFF_FFFF);
        BinaryPrimitives.WriteUInt16LittleEndian(writeMask.AsSpan(offset + Data), 0xFFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(writeMask.AsSpan(offset + MaskBits), vectors == 32 ? uint.MaxValue : (1u << vectors) - 1);
    }

    public int Offset { get; }

    public int Vectors { get; }

    public bool Enabled => (ControlWord & ControlEnable) != 0;

    /// <summary>How many vectors the driver enabled (Multiple Message Enable, at most what the function can send).</summary>
    public int EnabledVectors => Math.Min(1 << ((ControlWord >> 4) & 7), Vectors);

    private ushort ControlWord => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Offset + Control));

    private uint Mask => BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(Offset + MaskBits));

    private uint Pending
    {
        get => BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(Offset + PendingBits));
        set => BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(Offset + PendingBits), value);
    }

    /// <summary>Whether the configuration bytes [offset, offset+length) touch this capability.</summary>
    public bool Covers(int offset, int length) => offset < Offset + Length && offset + length > Offset;

    /// <summary>
    /// Vector <paramref name="vector"/> fires: returns the message to send, or null when it is masked
    /// (then it is pending) or beyond the vectors enabled.
    /// </summary>
    public (ulong Address, uint Data)? Fire(int vector)
    {
        if (!Enabled || (uint)vector >= (uint)EnabledVectors)
        {
            return null;
        }

        if ((Mask & (1u << vector)) != 0)
        {
            Pending |= 1u << vector;
            return null;
        }

        return Message(vector);
    }

    /// <summary>After a configuration write: the pending vectors the driver unmasked, to send now (and no longer pending).</summary>
    public uint TakeUnmaskedPending()
    {
        if (!Enabled)
        {
            return 0;
        }

        uint ready = Pending & ~Mask;
        Pending &= ~ready;
        return ready;
    }

    /// <summary>The message of vector <paramref name="vector"/>: the programmed address, and the data with its low bits replaced.</summary>
    public (ulong Address, uint Data) Message(int vector)
    {
        var cap = _config.AsSpan(Offset);
        ulong address = BinaryPrimitives.ReadUInt32LittleEndian(cap[AddressLow..]) | ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(cap[AddressHigh..]) << 32);
        uint data = BinaryPrimitives.ReadUInt16LittleEndian(cap[Data..]);
        uint low = (uint)EnabledVectors - 1;
        return (address, (data & ~low) | ((uint)vector & low));
    }
}

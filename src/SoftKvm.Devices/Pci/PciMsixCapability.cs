using System.Buffers.Binary;
using SoftKvm.Core;
using SoftKvm.Core.Io;

namespace SoftKvm.Devices.Pci;

/// <summary>
/// The MSI-X capability (PCI Local Bus Specification 3.0, section 6.8.2): Message Control (table size,
/// Function Mask, MSI-X Enable), the table's and the Pending Bit Array's BAR and offset, and the two
/// regions themselves, which the function places in one of its BARs (<see cref="Table"/>, <see cref="Pba"/>).
/// A table entry is 16 bytes: Message Address, Message Upper Address, Message Data, Vector Control
/// (bit 0 = masked; every vector starts masked). A vector that fires while masked (or while the function
/// is masked) sets its pending bit and is sent when unmasked. The table answers accesses of any size.
/// </summary>
public sealed class PciMsixCapability
{
    /// <summary>The capability's length in configuration space.</summary>
    public const int Length = 12;

    /// <summary>Bytes per table entry.</summary>
    public const int EntrySize = 16;

    internal const int Control = 2;
    internal const int TableOffsetBir = 4;
    internal const int PbaOffsetBir = 8;
    internal const ushort ControlFunctionMask = 1 << 14;
    internal const ushort ControlEnable = 1 << 15;
    private const int VectorControl = 12;

    private readonly PciDevice _function;
    private readonly byte[] _config;
    private readonly byte[] _table;
    private readonly ulong[] _pending;

    internal PciMsixCapability(PciDevice function, byte[] config, byte[] writeMask, int offset, int vectors, int tableBar, uint tableOffset, int pbaBar, uint pbaOffset)
    {
        if (vectors is < 1 or > 2048)
        {
            throw new ArgumentOutOfRangeException(nameof(vectors), vectors, "MSI-X has 1 to 2048 vectors");
        }

        if (((tableOffset | pbaOffset) & 7) != 0)
        {
            throw new ArgumentException("the MSI-X table and PBA offsets must be 8-byte aligned");
        }

        _function = function;
        _config = config;
        Offset = offset;
        Vectors = vectors;
        _table = new byte[vectors * EntrySize];
        _pending = new ulong[(vectors + 63) / 64];
        for (int v = 0; v < vectors; v++)
        {
            _table[(v * EntrySize) + VectorControl] = 1;
        }

        var cap = config.AsSpan(offset);
        BinaryPrimitives.WriteUInt16LittleEndian(cap[Control..], (ushort)(vectors - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(cap[TableOffsetBir..], tableOffset | (uint)tableBar);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[PbaOffsetBir..], pbaOffset | (uint)pbaBar);
        BinaryPrimitives.WriteUInt16LittleEndian(writeMask.AsSpan(offset + Control), ControlFunctionMask | ControlEnable);
        Table = new TableRegion(this);
        Pba = new PbaRegion(this);
    }

    /// <summary>Where the capability starts in configuration space.</summary>
    public int Offset { get; }

    /// <summary>The table size.</summary>
    public int Vectors { get; }

    /// <summary>The size of the table region (16 bytes per vector).</summary>
    public ulong TableSize => (ulong)_table.Length;

    /// <summary>The size of the Pending Bit Array region (a bit per vector, in whole quadwords).</summary>
    public ulong PbaSize => (ulong)_pending.Length * 8;

    /// <summary>The table region, to place in the BAR at the table offset.</summary>
    public IIoDevice Table { get; }

    /// <summary>The Pending Bit Array region, to place in the BAR at the PBA offset.</summary>
    public IIoDevice Pba { get; }

    /// <summary>Whether the driver enabled MSI-X.</summary>
    public bool Enabled
    {
        get
        {
            lock (_function.SyncRoot)
            {
                return (ControlWord & ControlEnable) != 0;
            }
        }
    }

    private ushort ControlWord => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(Offset + Control));

    private bool FunctionMasked => (ControlWord & ControlFunctionMask) != 0;

    internal bool EnabledLocked => (ControlWord & ControlEnable) != 0;

    internal bool Covers(int offset, int length) => offset < Offset + Length && offset + length > Offset;

    /// <summary>
    /// Vector <paramref name="vector"/> fires (function lock held): returns the message to send, or null
    /// when MSI-X is off, the vector does not exist, or it is masked (then it is pending).
    /// </summary>
    internal (ulong Address, uint Data)? Fire(int vector)
    {
        if (!EnabledLocked || (uint)vector >= (uint)Vectors)
        {
            return null;
        }

        if (FunctionMasked || EntryMasked(vector))
        {
            _pending[vector >> 6] |= 1UL << (vector & 63);
            return null;
        }

        return Message(vector);
    }

    /// <summary>Sends every pending vector that is no longer masked (function lock held; messages appended to <paramref name="ready"/>).</summary>
    internal void TakeUnmaskedPending(List<(ulong Address, uint Data)> ready)
    {
        if (!EnabledLocked || FunctionMasked)
        {
            return;
        }

        for (int w = 0; w < _pending.Length; w++)
        {
            ulong bits = _pending[w];
            while (bits != 0)
            {
                int v = (w * 64) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                if (!EntryMasked(v))
                {
                    _pending[w] &= ~(1UL << (v & 63));
                    ready.Add(Message(v));
                }
            }
        }
    }

    internal bool IsPending(int vector) => (_pending[vector >> 6] & (1UL << (vector & 63))) != 0;

    internal byte[] SaveTable() => (byte[])_table.Clone();

    internal ulong[] SavePending() => (ulong[])_pending.Clone();

    internal void Restore(ReadOnlySpan<byte> table, ReadOnlySpan<ulong> pending)
    {
        table[..Math.Min(table.Length, _table.Length)].CopyTo(_table);
        pending[..Math.Min(pending.Length, _pending.Length)].CopyTo(_pending);
    }

    private bool EntryMasked(int vector) => (_table[(vector * EntrySize) + VectorControl] & 1) != 0;

    private (ulong Address, uint Data) Message(int vector)
    {
        var e = _table.AsSpan(vector * EntrySize, EntrySize);
        return (BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[8..]));
    }

    private static void ReadBytes(ReadOnlySpan<byte> source, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset < (ulong)source.Length)
        {
            var s = source[(int)offset..];
            s[..Math.Min(s.Length, data.Length)].CopyTo(data);
        }
    }

    private sealed class TableRegion(PciMsixCapability msix) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            lock (msix._function.SyncRoot)
            {
                ReadBytes(msix._table, offset, data);
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset >= (ulong)msix._table.Length)
            {
                return;
            }

            lock (msix._function.SyncRoot)
            {
                var t = msix._table.AsSpan((int)offset);
                data[..Math.Min(data.Length, t.Length)].CopyTo(t);

                // Vector Control bits 31:1 are reserved (read as zero).
                for (ulong b = offset & ~(ulong)(EntrySize - 1); b < offset + (ulong)data.Length && b < (ulong)msix._table.Length; b += EntrySize)
                {
                    int vc = (int)b + VectorControl;
                    msix._table[vc] &= 1;
                    msix._table[vc + 1] = msix._table[vc + 2] = msix._table[vc + 3] = 0;
                }
            }

            msix._function.SendUnmaskedPending();
        }
    }

    private sealed class PbaRegion(PciMsixCapability msix) : IIoDevice
    {
        public void Read(Vcpu? vcpu, ulong offset, Span<byte> data)
        {
            lock (msix._function.SyncRoot)
            {
                Span<byte> image = stackalloc byte[msix._pending.Length * 8];
                for (int i = 0; i < msix._pending.Length; i++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(image[(i * 8)..], msix._pending[i]);
                }

                ReadBytes(image, offset, data);
            }
        }

        public void Write(Vcpu? vcpu, ulong offset, ReadOnlySpan<byte> data)
        {
            // The Pending Bit Array is read-only (6.8.2.10).
        }
    }
}

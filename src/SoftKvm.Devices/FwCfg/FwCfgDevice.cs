using System.Buffers.Binary;
using System.Text;
using SoftKvm.Core;
using SoftKvm.Core.Errors;
using SoftKvm.Core.Memory;

namespace SoftKvm.Devices.FwCfg;

/// <summary>
/// QEMU's firmware configuration device (fw_cfg, QEMU's docs/specs/fw_cfg.rst), the items a program built
/// for a QEMU machine reads: the signature, the feature bitmap, the vCPU count, the RAM size, the file
/// directory and its files (etc/e820 ...). The guest selects an item (which rewinds its offset) and reads
/// it a byte at a time, reads past the end returning 0; or it hands the DMA interface the address of a
/// <c>FWCfgDmaAccess</c> structure (big-endian control, length, address) to select, read or skip in one
/// go, the result written back into the control field (0, or the error bit). Writes are not supported:
/// every item is read-only, and a DMA write sets the error bit, as QEMU does for read-only items. The
/// register front end is the machine's (<see cref="FwCfgIoPorts"/> on the PC); this class holds the items
/// and the transfer state, under one lock.
/// </summary>
public sealed partial class FwCfgDevice
{
    /// <summary>The feature bitmap: traditional interface and DMA.</summary>
    public const uint Features = 3;

    /// <summary>The DMA control bits (<c>FW_CFG_DMA_CTL_*</c>).</summary>
    internal const uint DmaError = 1, DmaRead = 2, DmaSkip = 4, DmaSelect = 8, DmaWrite = 16;

    /// <summary>The longest file name, with its terminating NUL.</summary>
    public const int FileNameLength = 56;

    private readonly object _lock = new();
    private readonly GuestMemory _memory;
    private readonly Dictionary<ushort, byte[]> _items = [];
    private readonly SortedDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private byte[]? _current;
    private int _offset;

    /// <summary>Creates the device with its signature and feature bitmap; DMA reaches <paramref name="memory"/>.</summary>
    public FwCfgDevice(GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        _memory = memory;
        AddItem(FwCfgKeys.Signature, "QEMU"u8.ToArray());
        AddUInt32(FwCfgKeys.Id, Features);
        RebuildDirectory();
    }

    /// <summary>The file names, in directory order.</summary>
    public IEnumerable<string> FileNames
    {
        get
        {
            lock (_lock)
            {
                return [.. _files.Keys];
            }
        }
    }

    /// <summary>Adds (or replaces) the item <paramref name="key"/> (not a file key, not the directory).</summary>
    /// <exception cref="ArgumentException">a file key or the directory.</exception>
    public void AddItem(ushort key, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        key = Normalize(key);
        if (key == FwCfgKeys.FileDir || (key & ~FwCfgKeys.ArchLocal) >= FwCfgKeys.FileFirst && (key & FwCfgKeys.ArchLocal) == 0)
        {
            throw new ArgumentException($"fw_cfg key 0x{key:x4} belongs to the file directory; use AddFile", nameof(key));
        }

        lock (_lock)
        {
            _items[key] = data;
        }
    }

    /// <summary>Adds a 16-bit little-endian item.</summary>
    public void AddUInt16(ushort key, ushort value)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        AddItem(key, b);
    }

    /// <summary>Adds a 32-bit little-endian item.</summary>
    public void AddUInt32(ushort key, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        AddItem(key, b);
    }

    /// <summary>Adds a 64-bit little-endian item.</summary>
    public void AddUInt64(ushort key, ulong value)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        AddItem(key, b);
    }

    /// <summary>
    /// Adds (or replaces) the file <paramref name="name"/>. Files get keys from 0x0020 in name order, as in
    /// QEMU's machines since 2.x, and the directory lists them in that order.
    /// </summary>
    /// <exception cref="DeviceConfigurationException">the name is empty, not ASCII, or too long.</exception>
    public void AddFile(string name, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(data);
        if (name.Length == 0 || name.Length >= FileNameLength || name.Any(c => c is < ' ' or > '~'))
        {
            throw new DeviceConfigurationException($"fw_cfg file name '{name}' is not 1 to {FileNameLength - 1} printable ASCII characters");
        }

        lock (_lock)
        {
            if (!_files.ContainsKey(name) && _files.Count >= 0x3FFF - FwCfgKeys.FileFirst)
            {
                throw new DeviceConfigurationException("fw_cfg has no room for another file");
            }

            _files[name] = data;
            RebuildDirectory();
        }
    }

    /// <summary>The key file <paramref name="name"/> has, or null.</summary>
    public ushort? FileKey(string name)
    {
        lock (_lock)
        {
            int i = 0;
            foreach (var n in _files.Keys)
            {
                if (n == name)
                {
                    return (ushort)(FwCfgKeys.FileFirst + i);
                }

                i++;
            }

            return null;
        }
    }

    /// <summary>Selects item <paramref name="key"/> and rewinds (the selector register).</summary>
    public void Select(ushort key)
    {
        lock (_lock)
        {
            SelectLocked(key);
        }
    }

    /// <summary>Reads the next byte of the selected item (the data register); 0 past its end or with nothing selected.</summary>
    public byte ReadByte()
    {
        lock (_lock)
        {
            if (_current is null || _offset >= _current.Length)
            {
                return 0;
            }

            return _current[_offset++];
        }
    }

    /// <summary>
    /// Runs the DMA request whose <c>FWCfgDmaAccess</c> structure is at <paramref name="address"/> and writes
    /// the result into its control field. A structure the device cannot read is dropped (nothing to report
    /// into), as a failed bus read would be.
    /// </summary>
    public void Dma(ulong address)
    {
        Span<byte> access = stackalloc byte[16];
        try
        {
            _memory.Read(new GuestPhysAddr(address), access);
        }
        catch (GuestMemoryAccessException)
        {
            return;
        }

        uint control = BinaryPrimitives.ReadUInt32BigEndian(access);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(access[4..]);
        ulong target = BinaryPrimitives.ReadUInt64BigEndian(access[8..]);
        uint result;
        lock (_lock)
        {
            result = TransferLocked(control, length, target);
        }

        Span<byte> done = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(done, result);
        try
        {
            _memory.Write(new GuestPhysAddr(address), done);
        }
        catch (GuestMemoryAccessException)
        {
            // The structure was readable a moment ago; a slot change in between loses the status, as on a bus.
        }
    }

    private static ushort Normalize(ushort key) => (ushort)(key & ~FwCfgKeys.WriteChannel);

    private void SelectLocked(ushort key)
    {
        key = Normalize(key);
        _offset = 0;
        _current = _items.GetValueOrDefault(key);
    }

    private uint TransferLocked(uint control, uint length, ulong target)
    {
        if ((control & DmaSelect) != 0)
        {
            SelectLocked((ushort)(control >> 16));
        }

        if ((control & DmaRead) != 0)
        {
            // Bytes past the end of the item (or of no item) read as zero.
            Span<byte> chunk = stackalloc byte[256];
            while (length > 0)
            {
                int n = (int)Math.Min(length, (uint)chunk.Length);
                chunk.Clear();
                if (_current is not null && _offset < _current.Length)
                {
                    int have = Math.Min(n, _current.Length - _offset);
                    _current.AsSpan(_offset, have).CopyTo(chunk);
                    _offset += have;
                }

                try
                {
                    _memory.Write(new GuestPhysAddr(target), chunk[..n]);
                }
                catch (GuestMemoryAccessException)
                {
                    return DmaError;
                }

                target += (ulong)n;
                length -= (uint)n;
            }

            return 0;
        }

        if ((control & DmaWrite) != 0)
        {
            return length == 0 ? 0 : DmaError; // every item is read-only
        }

        if ((control & DmaSkip) != 0 && _current is not null)
        {
            _offset = (int)Math.Min((long)_offset + length, _current.Length);
        }

        return 0;
    }

    private void RebuildDirectory()
    {
        var dir = new byte[4 + (_files.Count * 64)];
        BinaryPrimitives.WriteUInt32BigEndian(dir, (uint)_files.Count);
        ushort key = FwCfgKeys.FileFirst;
        int at = 4;
        foreach (var (name, data) in _files)
        {
            BinaryPrimitives.WriteUInt32BigEndian(dir.AsSpan(at), (uint)data.Length);
            BinaryPrimitives.WriteUInt16BigEndian(dir.AsSpan(at + 4), key);
            Encoding.ASCII.GetBytes(name, dir.AsSpan(at + 8));
            _items[key] = data;
            key++;
            at += 64;
        }

        _items[FwCfgKeys.FileDir] = dir;
        if (_current is not null && !_items.ContainsValue(_current))
        {
            _current = null;
        }
    }
}

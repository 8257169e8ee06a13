using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SoftKvm.Core.Memory;

namespace SoftKvm.Devices.Virtio;

/// <summary>
/// virtio-blk (virtio 1.2 section 5.2) backed by a disk image file: VIRTIO_BLK_T_IN and OUT move whole
/// 512-byte sectors between the file and the guest buffers (zero-copy through the memory slots), FLUSH
/// is honoured with a flush to disk (VIRTIO_BLK_F_FLUSH), GET_ID returns the image's name, and a
/// read-only disk offers VIRTIO_BLK_F_RO and fails writes with VIRTIO_BLK_S_IOERR. Other request types
/// get VIRTIO_BLK_S_UNSUPP. The capacity is the file size in whole sectors.
/// </summary>
public sealed class VirtioBlock : VirtioDevice, IDisposable
{
    /// <summary>The sector size of virtio-blk requests.</summary>
    public const int SectorSize = 512;

    private const ulong FeatureSegMax = 1UL << 2;
    private const ulong FeatureRo = 1UL << 5;
    private const ulong FeatureBlkSize = 1UL << 6;
    private const ulong FeatureFlush = 1UL << 9;

    private const uint TypeIn = 0;
    private const uint TypeOut = 1;
    private const uint TypeFlush = 4;
    private const uint TypeGetId = 8;

    private const byte StatusOk = 0;
    private const byte StatusIoErr = 1;
    private const byte StatusUnsupp = 2;

    private const int HeaderSize = 16;
    private const int IdSize = 20;

    private readonly FileStream _file;
    private readonly byte[] _id = new byte[IdSize];
    private readonly byte[] _config = new byte[24];

    /// <summary>Opens <paramref name="path"/> as the disk; <paramref name="readOnly"/> opens it for reading only.</summary>
    /// <exception cref="DeviceConfigurationException">the file cannot be opened as asked.</exception>
    public VirtioBlock(string path, bool readOnly)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            _file = new FileStream(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            string hint = !readOnly && e is UnauthorizedAccessException ? " (use the read-only option for a read-only file)" : "";
            throw new DeviceConfigurationException($"cannot open disk image '{path}': {FirstLine(e.Message)}{hint}", e);
        }

        ReadOnly = readOnly;
        Path = path;
        CapacitySectors = (ulong)_file.Length / SectorSize;
        Encoding.ASCII.GetBytes(System.IO.Path.GetFileName(path).AsSpan(0, Math.Min(IdSize, System.IO.Path.GetFileName(path).Length)), _id);
        BinaryPrimitives.WriteUInt64LittleEndian(_config.AsSpan(0), CapacitySectors);        // capacity
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(12), (uint)(MaxQueueSize - 2)); // seg_max
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(20), SectorSize);            // blk_size
    }

    /// <summary>The image file.</summary>
    public string Path { get; }

    /// <summary>Whether the guest may not write.</summary>
    public bool ReadOnly { get; }

    /// <summary>The capacity in 512-byte sectors.</summary>
    public ulong CapacitySectors { get; }

    /// <summary>The number of flushes to disk done for the guest.</summary>
    public int Flushes { get; private set; }

    /// <inheritdoc />
    internal override uint DeviceId => 2;

    /// <inheritdoc />
    internal override ulong DeviceFeatures => FeatureSegMax | FeatureBlkSize | FeatureFlush | (ReadOnly ? FeatureRo : 0);

    /// <inheritdoc />
    internal override int QueueCount => 1;

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    /// <inheritdoc />
    internal override void ReadConfig(ulong offset, Span<byte> data) => ReadConfigImage(_config, offset, data);

    /// <inheritdoc />
    internal override void WriteConfig(ulong offset, ReadOnlySpan<byte> data)
    {
        // Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE (not offered).
    }

    /// <inheritdoc />
    internal override void OnNotify(GuestMemory memory, int queue)
    {
        var transport = Transport!;
        var q = transport.ReadyQueue(queue);
        if (q is null)
        {
            return;
        }

        bool used = false;
        while (q.TryPop(memory, out ushort head))
        {
            uint written = Handle(memory, q.Chain);
            q.PushUsed(memory, head, written);
            used = true;
        }

        if (used)
        {
            transport.SignalUsed(q);
        }
    }

    // Serves one request; returns the bytes written into the device-writable buffers (data + status).
    private uint Handle(GuestMemory memory, ReadOnlySpan<VirtqDescriptor> chain)
    {
        long readable = ChainIo.Length(chain, writable: false);
        long writable = ChainIo.Length(chain, writable: true);
        if (readable < HeaderSize || writable < 1)
        {
            throw new VirtqueueException($"virtio-blk request with {readable} readable and {writable} writable bytes");
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        ChainIo.Read(memory, chain, 0, header);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        long dataIn = writable - 1;  // the status byte is the last writable byte
        uint written = 0;
        byte status;
        switch (type)
        {
            case TypeIn:
                status = Transfer(memory, chain, sector, dataIn, toGuest: true);
                written = status == StatusOk ? (uint)dataIn : 0;
                break;
            case TypeOut:
                status = ReadOnly ? StatusIoErr : Transfer(memory, chain, sector, readable - HeaderSize, toGuest: false);
                break;
            case TypeFlush:
                status = Flush();
                break;
            case TypeGetId:
                int n = (int)Math.Min(IdSize, dataIn);
                written = (uint)ChainIo.Write(memory, chain, 0, _id.AsSpan(0, n));
                status = StatusOk;
                break;
            default:
                status = StatusUnsupp;
                break;
        }

        ChainIo.Write(memory, chain, writable - 1, MemoryMarshal.CreateReadOnlySpan(ref status, 1));
        return written + 1;
    }

    private byte Flush()
    {
        if (ReadOnly)
        {
            return StatusOk;
        }

        try
        {
            _file.Flush(flushToDisk: true);
            Flushes++;
            return StatusOk;
        }
        catch (IOException)
        {
            return StatusIoErr;
        }
    }

    // Moves `length` bytes between the file at `sector` and the request's data buffers, segment by segment.
    private byte Transfer(GuestMemory memory, ReadOnlySpan<VirtqDescriptor> chain, ulong sector, long length, bool toGuest)
    {
        if (length % SectorSize != 0 || sector > CapacitySectors || (ulong)(length / SectorSize) > CapacitySectors - sector)
        {
            return StatusIoErr;
        }

        long position = (long)sector * SectorSize;
        long skip = toGuest ? 0 : HeaderSize;
        long left = length;
        SafeFileHandle handle = _file.SafeFileHandle;
        try
        {
            foreach (var d in chain)
            {
                if (d.IsWriteOnly != toGuest || left == 0)
                {
                    continue;
                }

                if (skip >= d.Length)
                {
                    skip -= d.Length;
                    continue;
                }

                ulong address = d.Address + (ulong)skip;
                long segment = Math.Min(d.Length - skip, left);
                skip = 0;
                while (segment > 0)
                {
                    var host = ChainIo.HostSpan(memory, address, segment, write: toGuest);
                    if (toGuest)
                    {
                        int got = RandomAccess.Read(handle, host, position);
                        if (got < host.Length)
                        {
                            return StatusIoErr;
                        }
                    }
                    else
                    {
                        RandomAccess.Write(handle, (ReadOnlySpan<byte>)host, position);
                    }

                    position += host.Length;
                    address += (ulong)host.Length;
                    segment -= host.Length;
                    left -= host.Length;
                }
            }
        }
        catch (IOException)
        {
            return StatusIoErr;
        }

        return StatusOk;
    }

    private static string FirstLine(string message)
    {
        int nl = message.IndexOfAny(['\r', '\n']);
        return nl < 0 ? message : message[..nl];
    }
}

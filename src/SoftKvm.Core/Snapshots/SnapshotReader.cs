using System.Buffers.Binary;
using System.Text;

namespace SoftKvm.Core.Snapshots;

/// <summary>
/// Reads a snapshot written by <see cref="SnapshotWriter"/>, section by section in the order they were
/// written, checking each one's tag, length and CRC-32C. Every defect (not a snapshot, another version,
/// an unexpected section, a bad checksum, a truncated file, a payload shorter than its reader expects)
/// is a <see cref="SnapshotFormatException"/> with a one-line message.
/// </summary>
public sealed unsafe class SnapshotReader
{
    private readonly Stream _stream;
    private readonly string _name;
    private readonly FileStream? _file;
    private readonly long _origin;
    private long _consumed;
    private string? _largeTag;
    private long _largeLeft = -1;
    private uint _largeCrc;

    /// <summary>Opens a snapshot on <paramref name="stream"/> (checks the magic and the format version); <paramref name="name"/> names it in errors.</summary>
    /// <exception cref="SnapshotFormatException">not a snapshot, or another format version.</exception>
    public SnapshotReader(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _name = name;
        _file = stream is FileStream { CanSeek: true } file ? file : null;
        _origin = _file?.Position ?? 0;
        Span<byte> head = stackalloc byte[12];
        if (!TryFill(head) || !head[..8].SequenceEqual(SnapshotFormat.Magic))
        {
            throw new SnapshotFormatException($"{name} is not a SoftKvm snapshot (no SKVMSNAP magic)");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
        if (version != SnapshotFormat.Version)
        {
            throw new SnapshotFormatException($"{name} is a snapshot of format version {version}; this SoftKvm reads version {SnapshotFormat.Version} only");
        }
    }

    /// <summary>Reads section <paramref name="tag"/>, which must come next, and returns a reader over its payload.</summary>
    /// <exception cref="SnapshotFormatException">another section comes next, a bad checksum, or the file ends.</exception>
    public BinaryReader ReadSection(string tag)
    {
        long length = ReadHead(tag);
        if (length > SnapshotFormat.MaxSmallSection)
        {
            throw Corrupt($"section '{tag}' claims {length} bytes");
        }

        byte[] payload = new byte[length];
        if (!TryFill(payload))
        {
            throw Truncated(tag);
        }

        CheckCrc(tag, SnapshotFormat.Crc32C(0, payload));
        return new SectionReader(new MemoryStream(payload, writable: false), this, tag);
    }

    /// <summary>Reads the closing section; after it the snapshot is complete.</summary>
    public void ReadEnd() => ReadSection(SnapshotFormat.EndTag).Dispose();

    /// <summary>Opens streamed section <paramref name="tag"/>, which must come next; returns its payload length.</summary>
    public long BeginLargeSection(string tag)
    {
        if (_largeLeft >= 0)
        {
            throw new InvalidOperationException($"streamed section '{_largeTag}' is still open");
        }

        long length = ReadHead(tag);
        _largeTag = tag;
        _largeLeft = length;
        _largeCrc = 0;
        return length;
    }

    /// <summary>Reads exactly <paramref name="destination"/>'s length from the open streamed section.</summary>
    public void ReadLarge(Span<byte> destination)
    {
        if (_largeLeft < destination.Length)
        {
            throw _largeLeft < 0
                ? new InvalidOperationException("no streamed section is open")
                : Corrupt($"section '{_largeTag}' is shorter than its contents say");
        }

        if (!TryFill(destination))
        {
            throw Truncated(_largeTag!);
        }

        _largeCrc = SnapshotFormat.Crc32C(_largeCrc, destination);
        _largeLeft -= destination.Length;
    }

    /// <summary>The bytes read so far, the magic and version included (where the writer's <see cref="SnapshotWriter.BytesWritten"/> was).</summary>
    internal long Position => _consumed;

    /// <summary>
    /// Where the host allows (a snapshot file on Linux with 4 KiB pages, the section's bytes page-aligned in the file
    /// and all there), maps the next <paramref name="length"/> bytes of the open streamed section over
    /// <paramref name="destination"/> (page-aligned memory of a mapped slot) copy-on-write instead of reading them,
    /// checksums them where they are mapped, and returns true; otherwise returns false and reads nothing.
    /// </summary>
    internal bool TryMapLarge(byte* destination, long length)
    {
        long offset = _origin + _consumed;
        const long page = (long)Memory.GuestMemory.PageSize;
        if (_file is null || !Memory.HostMemory.CanMapFiles || length <= 0 || _largeLeft < length
            || offset % page != 0 || length % page != 0 || ((nuint)destination % (nuint)page) != 0 || _file.Length < offset + length)
        {
            return false;
        }

        if (!Memory.HostMemory.MapFilePrivate(destination, (ulong)length, _file.SafeFileHandle, offset))
        {
            return false;
        }

        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(length - done, 1 << 30);
            _largeCrc = SnapshotFormat.Crc32C(_largeCrc, new ReadOnlySpan<byte>(destination + done, n));
            done += n;
        }

        _file.Seek(length, SeekOrigin.Current);
        _consumed += length;
        _largeLeft -= length;
        return true;
    }

    /// <summary>Ends the open streamed section: all of it must have been read, and its checksum must match.</summary>
    public void EndLargeSection()
    {
        if (_largeLeft != 0)
        {
            throw _largeLeft < 0
                ? new InvalidOperationException("no streamed section is open")
                : Corrupt($"section '{_largeTag}' has {_largeLeft} bytes more than its contents say");
        }

        CheckCrc(_largeTag!, _largeCrc);
        _largeLeft = -1;
        _largeTag = null;
    }

    /// <summary>A <see cref="SnapshotFormatException"/> naming this file: its contents are inconsistent.</summary>
    public SnapshotFormatException Corrupt(string what) => new($"{_name} is corrupt: {what}");

    private long ReadHead(string expected)
    {
        Span<byte> head = stackalloc byte[12];
        if (!TryFill(head))
        {
            throw Truncated(expected);
        }

        string tag = Encoding.ASCII.GetString(head[..4]);
        if (tag != expected)
        {
            throw Corrupt($"section '{Printable(tag)}' where '{expected}' was expected");
        }

        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(head[4..]);
        if (length > long.MaxValue)
        {
            throw Corrupt($"section '{tag}' claims {length} bytes");
        }

        return (long)length;
    }

    private void CheckCrc(string tag, uint computed)
    {
        Span<byte> b = stackalloc byte[4];
        if (!TryFill(b))
        {
            throw Truncated(tag);
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(b);
        if (stored != computed)
        {
            throw Corrupt($"section '{tag}' fails its checksum (stored 0x{stored:x8}, computed 0x{computed:x8})");
        }
    }

    private SnapshotFormatException Truncated(string tag) => new($"{_name} is truncated: it ends inside or before section '{tag}'");

    private static string Printable(string tag) => new([.. tag.Select(c => c is < ' ' or > '~' ? '?' : c)]);

    private bool TryFill(Span<byte> buffer)
    {
        try
        {
            _stream.ReadExactly(buffer);
            _consumed += buffer.Length;
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }

    // A payload reader whose running past the end is a corrupt-file error, not an EndOfStreamException.
    private sealed class SectionReader(MemoryStream payload, SnapshotReader owner, string tag) : BinaryReader(payload)
    {
        public override byte ReadByte() => Guard(base.ReadByte);

        public override bool ReadBoolean() => Guard(base.ReadBoolean);

        public override ushort ReadUInt16() => Guard(base.ReadUInt16);

        public override int ReadInt32() => Guard(base.ReadInt32);

        public override uint ReadUInt32() => Guard(base.ReadUInt32);

        public override long ReadInt64() => Guard(base.ReadInt64);

        public override ulong ReadUInt64() => Guard(base.ReadUInt64);

        public override string ReadString() => Guard(base.ReadString);

        public override byte[] ReadBytes(int count)
        {
            if (count < 0 || count > payload.Length - payload.Position)
            {
                throw owner.Corrupt($"section '{tag}' is shorter than its contents say");
            }

            return base.ReadBytes(count);
        }

        private T Guard<T>(Func<T> read)
        {
            try
            {
                return read();
            }
            catch (Exception e) when (e is EndOfStreamException or FormatException)
            {
                throw owner.Corrupt($"section '{tag}' is shorter than its contents say");
            }
        }
    }
}

using System.Buffers.Binary;

namespace SoftKvm.Core.Snapshots;

/// <summary>
/// Writes a snapshot (<see cref="SnapshotFormat"/>) to a stream: the magic and version at creation, then
/// sections. A small section is built in memory (<see cref="BeginSection"/> returns its writer,
/// <see cref="EndSection"/> writes it out); a large one whose length is known beforehand (guest memory) is
/// streamed (<see cref="BeginLargeSection"/> / <see cref="WriteLarge"/> / <see cref="EndLargeSection"/>).
/// </summary>
public sealed class SnapshotWriter
{
    private readonly Stream _stream;
    private readonly MemoryStream _section = new();
    private readonly BinaryWriter _sectionWriter;
    private string? _tag;
    private long _largeLeft = -1;
    private uint _largeCrc;
    private bool _finished;

    /// <summary>Starts a snapshot on <paramref name="stream"/> (writes the magic and the format version).</summary>
    public SnapshotWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _sectionWriter = new BinaryWriter(_section);
        Span<byte> head = stackalloc byte[12];
        SnapshotFormat.Magic.CopyTo(head);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], SnapshotFormat.Version);
        _stream.Write(head);
    }

    /// <summary>The bytes written so far.</summary>
    public long BytesWritten { get; private set; } = 12;

    /// <summary>Starts section <paramref name="tag"/>; write its payload with the writer returned, then <see cref="EndSection"/>.</summary>
    public BinaryWriter BeginSection(string tag)
    {
        SnapshotFormat.CheckTag(tag);
        ThrowIfOpen();
        _tag = tag;
        _section.SetLength(0);
        return _sectionWriter;
    }

    /// <summary>Writes the section begun by <see cref="BeginSection"/>.</summary>
    public void EndSection()
    {
        if (_tag is null || _largeLeft >= 0)
        {
            throw new InvalidOperationException("no small section is open");
        }

        _sectionWriter.Flush();
        var payload = new ReadOnlySpan<byte>(_section.GetBuffer(), 0, (int)_section.Length);
        WriteSectionHead(_tag, (ulong)payload.Length);
        _stream.Write(payload);
        WriteCrc(SnapshotFormat.Crc32C(0, payload));
        BytesWritten += payload.Length;
        _tag = null;
    }

    /// <summary>Starts streamed section <paramref name="tag"/> of exactly <paramref name="length"/> payload bytes.</summary>
    public void BeginLargeSection(string tag, long length)
    {
        SnapshotFormat.CheckTag(tag);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ThrowIfOpen();
        _tag = tag;
        WriteSectionHead(tag, (ulong)length);
        _largeLeft = length;
        _largeCrc = 0;
    }

    /// <summary>Writes part of the open streamed section's payload.</summary>
    public void WriteLarge(ReadOnlySpan<byte> data)
    {
        if (_largeLeft < data.Length)
        {
            throw new InvalidOperationException(_largeLeft < 0 ? "no streamed section is open" : "more bytes than the streamed section's length");
        }

        _stream.Write(data);
        _largeCrc = SnapshotFormat.Crc32C(_largeCrc, data);
        _largeLeft -= data.Length;
        BytesWritten += data.Length;
    }

    /// <summary>Ends the streamed section (all of its announced bytes must have been written).</summary>
    public void EndLargeSection()
    {
        if (_largeLeft != 0)
        {
            throw new InvalidOperationException(_largeLeft < 0 ? "no streamed section is open" : $"the streamed section lacks {_largeLeft} bytes");
        }

        WriteCrc(_largeCrc);
        _largeLeft = -1;
        _tag = null;
    }

    /// <summary>Writes the closing section and flushes the stream; nothing may be written after it.</summary>
    public void Finish()
    {
        BeginSection(SnapshotFormat.EndTag);
        EndSection();
        _finished = true;
        _stream.Flush();
    }

    private void ThrowIfOpen()
    {
        if (_tag is not null || _finished)
        {
            throw new InvalidOperationException(_finished ? "the snapshot is finished" : $"section '{_tag}' is still open");
        }
    }

    private void WriteSectionHead(string tag, ulong length)
    {
        Span<byte> head = stackalloc byte[12];
        for (int i = 0; i < 4; i++)
        {
            head[i] = (byte)tag[i];
        }

        BinaryPrimitives.WriteUInt64LittleEndian(head[4..], length);
        _stream.Write(head);
        BytesWritten += 12;
    }

    private void WriteCrc(uint crc)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, crc);
        _stream.Write(b);
        BytesWritten += 4;
    }
}

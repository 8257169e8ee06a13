namespace SoftKvm.Cli;

/// <summary>
/// The guest console's stream with a watch on it (<c>--snapshot-on-output TEXT</c>): bytes pass through
/// untouched, and the first time the output contains <c>TEXT</c> (also across writes) the action runs once,
/// on the writing thread, after the byte that completed the text was written.
/// </summary>
internal sealed class OutputTrigger(Stream inner, byte[] text, Action matched) : Stream
{
    private readonly int[] _failure = Failure(text);
    private int _state;
    private bool _fired;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_fired)
        {
            inner.Write(buffer);
            return;
        }

        for (int i = 0; i < buffer.Length; i++)
        {
            byte b = buffer[i];
            while (_state > 0 && text[_state] != b)
            {
                _state = _failure[_state - 1];
            }

            if (text[_state] == b)
            {
                _state++;
            }

            if (_state == text.Length)
            {
                inner.Write(buffer[..(i + 1)]);
                inner.Flush();
                _fired = true;
                matched();
                inner.Write(buffer[(i + 1)..]);
                return;
            }
        }

        inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    // Knuth-Morris-Pratt: the length of the longest proper prefix of text[..i+1] that is also its suffix.
    private static int[] Failure(byte[] text)
    {
        var f = new int[text.Length];
        for (int i = 1, k = 0; i < text.Length; i++)
        {
            while (k > 0 && text[i] != text[k])
            {
                k = f[k - 1];
            }

            if (text[i] == text[k])
            {
                k++;
            }

            f[i] = k;
        }

        return f;
    }
}

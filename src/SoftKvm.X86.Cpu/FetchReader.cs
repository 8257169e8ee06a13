using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>Feeds the Iced decoder from a pointer into the current code bytes; reused for every instruction.</summary>
internal sealed unsafe class FetchReader : CodeReader
{
    private byte* _bytes;
    private int _length;
    private int _position;

    public void Reset(byte* bytes, int length)
    {
        _bytes = bytes;
        _length = length;
        _position = 0;
    }

    public override int ReadByte() => _position < _length ? _bytes[_position++] : -1;
}

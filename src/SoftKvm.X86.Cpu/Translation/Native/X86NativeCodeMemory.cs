using SoftKvm.Core.CodeGen;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// One vCPU's native code: an <see cref="ExecutableMemory"/> region filled from the start, block after
/// block. When it is full the vCPU drops every block (<see cref="Generation"/> moves on) and starts again:
/// blocks are entered only from the run loop, never from each other, so nothing points into old code.
/// </summary>
internal sealed unsafe class X86NativeCodeMemory : IDisposable
{
    /// <summary>The region's size (address space; pages are allocated as they are written).</summary>
    public const long Size = 64L << 20;

    private const int Alignment = 16;

    private readonly ExecutableMemory _memory = new(Size);
    private long _used;

    /// <summary>Moves on every time the region is emptied: blocks placed before are gone.</summary>
    public int Generation { get; private set; } = 1;

    /// <summary>Copies the assembled block in; its entry (the first byte).</summary>
    public nint Place(X64Assembler asm)
    {
        while (true)
        {
            byte* at = _memory.Executable + _used;
            int size = asm.Assemble(_memory.WritableOf(at), (ulong)at, (int)Math.Min(int.MaxValue, Size - _used));
            if (size >= 0)
            {
                _used += (size + Alignment - 1) & ~(Alignment - 1);
                return (nint)at;
            }

            if (_used == 0)
            {
                throw new InvalidOperationException("a native block is larger than the code memory");
            }

            _used = 0;
            Generation++;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _memory.Dispose();
}

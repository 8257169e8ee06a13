using SoftKvm.Core.CodeGen;

namespace SoftKvm.X86.Cpu.Translation.Native;

/// <summary>
/// One vCPU's native code: an <see cref="ExecutableMemory"/> region filled from the start, block after
/// block. When it is full the vCPU drops every block (<see cref="Generation"/> moves on) and starts again:
/// the jump cache and the links between blocks are dropped with them, so nothing points into old code.
/// </summary>
internal sealed unsafe class X86NativeCodeMemory : IDisposable
{
    /// <summary>The region's size (address space; pages are allocated as they are written).</summary>
    public const long Size = 64L << 20;

    private const int Alignment = 16;

    private readonly ExecutableMemory _memory = new(Size);
    private long _used;

    /// <summary>
    /// With SOFTKVM_PERF_MAP=1, every block's parts are named in /tmp/softkvm-code-PID.map ("offset size name", the
    /// offset into the code's memfd, which is how perf reports samples in it): x86_enter_RIP (prologue and entry
    /// checks), x86_body_RIP (the guest instructions), x86_exits_RIP (edges, exit stubs, links), x86_tail_RIP (the
    /// chain routine, the stale exit, the epilogue).
    /// </summary>
    public static readonly StreamWriter? PerfMap = Environment.GetEnvironmentVariable("SOFTKVM_PERF_MAP") == "1"
        ? new StreamWriter($"/tmp/softkvm-code-{Environment.ProcessId}.map", append: true) { AutoFlush = true }
        : null;

    /// <summary>The offset of <paramref name="code"/> in the region (in its memfd: what perf reports).</summary>
    public long OffsetOf(nint code) => (byte*)code - _memory.Executable;

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

    /// <summary>Points the JMP whose rel32 field is at <paramref name="field"/> at <paramref name="target"/> (both in this region's
    /// current generation).</summary>
    public void Patch(nint field, nint target) =>
        *(int*)_memory.WritableOf((byte*)field) = checked((int)(target - (field + 4)));

    /// <summary>Writes <paramref name="value"/> into the 8-byte immediate at <paramref name="field"/>.</summary>
    public void PatchQword(nint field, long value) => *(long*)_memory.WritableOf((byte*)field) = value;

    /// <inheritdoc />
    public void Dispose() => _memory.Dispose();
}

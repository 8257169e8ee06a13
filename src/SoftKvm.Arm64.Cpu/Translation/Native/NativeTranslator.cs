using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;
using SoftKvm.Arm64.Cpu.Translation.Native.X64;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// Translates a block at its first execution, on the PE's own thread: the code reachable from the entry
/// inside its 4 KiB page through straight-line code and direct branches (and on past calls and system
/// instructions, to where control comes back), up to <see cref="MaxInstructions"/>; its IR
/// (<see cref="A64IrBuilder"/>), the passes (<see cref="ConstantFolding"/>, <see cref="FlagLiveness"/>),
/// the x86-64 code (<see cref="X64Lowering"/>) placed in the <see cref="NativeCodeCache"/>. One translator
/// per thread, its buffers reused from block to block.
/// </summary>
internal sealed unsafe class NativeTranslator
{
    /// <summary>The most instructions in one block (and so between two budget checks).</summary>
    public const int MaxInstructions = 64;

    [ThreadStatic]
    private static NativeTranslator? t_instance;

    private readonly BlockDiscovery _discovery = new();
    private readonly IrBlock _block = new();
    private readonly A64IrBuilder _builder = new();
    private readonly X64Assembler _asm = new();
    private readonly X64Lowering _lowering;

    private NativeTranslator() => _lowering = new X64Lowering(_asm);

    /// <summary>This thread's translator.</summary>
    public static NativeTranslator ForThisThread => t_instance ??= new NativeTranslator();

    /// <summary>The IR of the last block translated (for tests and the spike's measurements).</summary>
    public IrBlock LastIr => _block;

    /// <summary>Host instructions of the last block.</summary>
    public int LastHostInstructions { get; private set; }

    /// <summary>
    /// Translates the block entered at <paramref name="host"/> (guest address <paramref name="pc"/>) for
    /// <paramref name="mode"/> and returns its first entry; null when the code cache is full (a flush is
    /// then pending).
    /// </summary>
    public NativeEntry? Translate(NativeCodeCache cache, uint* host, ulong pc, BlockMode mode, int maxInstructions = MaxInstructions)
    {
        _discovery.Run(host, pc, maxInstructions);
        int[] indices = _discovery.Indices;
        uint[] words = _discovery.Words;
        A64Op[] decoded = _discovery.Ops;
        bool[] isLabel = _discovery.IsLabel, isEntry = _discovery.IsEntry;
        _block.Reset(host, pc, mode, indices, words, decoded, isLabel, isEntry);
        _builder.Build(_block);
        ConstantFolding.Run(_block);
        FlagLiveness.Run(_block);
        lock (cache.Lock)
        {
            // Under the lock: the block id and the code's address are part of the code.
            int id = cache.NextBlockId();
            _asm.Reset();
            _lowering.Lower(_block, id, cache);
            LastHostInstructions = _asm.Count;
            nint code = cache.Place(_asm, out int size);
            if (code == 0)
            {
                return null;
            }

            if (NativeCodeDump.Enabled)
            {
                var ends = new int[indices.Length];
                for (int k = 0; k < ends.Length; k++)
                {
                    ends[k] = (int)(_asm.AddressOf(_lowering.EndOf(k)) - (ulong)code);
                }

                NativeCodeDump.Write(_block, code, size, cache.OffsetOf(code), ends);
            }

            var block = new NativeBlock(id, host, pc, mode, indices, words, decoded)
            {
                Code = code,
                CodeSize = size,
                Resume = _lowering.ExitHelperResume is { } resume ? (nint)_asm.AddressOf(resume) : 0,
            };
            var exits = new NativeExitInfo[_lowering.Exits.Count];
            for (int i = 0; i < exits.Length; i++)
            {
                var (target, slot, unlinked) = _lowering.Exits[i];
                nint tail = slot == 0 ? 0 : (nint)_asm.AddressOf(unlinked);
                exits[i] = new NativeExitInfo(target, slot, tail);
                if (slot != 0)
                {
                    cache.SetSlot(slot, tail);
                }
            }

            var entries = new NativeEntry[_lowering.Entries.Count];
            for (int i = 0; i < entries.Length; i++)
            {
                var (offset, label) = _lowering.Entries[i];
                entries[i] = new NativeEntry(block, i, offset, (nint)_asm.AddressOf(label));
            }

            block.Exits = exits;
            block.Entries = entries;
            cache.Commit(block);
            return Array.Find(entries, e => e.Offset == 0);
        }
    }
}

using System.Diagnostics;
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
    public const int MaxInstructions = 32;

    [ThreadStatic]
    private static NativeTranslator? t_instance;

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
        Discover(host, pc, out int[] indices, out bool[] isLabel, out bool[] isEntry, maxInstructions);
        var words = new uint[indices.Length];
        var decoded = new A64Op[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            words[k] = host[indices[k]];
            decoded[k] = A64Decoder.Decode(words[k]);
        }

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

            var block = new NativeBlock(id, host, pc, mode, indices, words) { CodeSize = size };
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

    /// <summary>
    /// The instructions of the block entered at <paramref name="host"/>, as indices relative to it,
    /// ascending; which are labels (control arrives other than from the instruction before: the entry,
    /// branch targets, the instructions after calls and system instructions) and which are entries (the
    /// first, targets of backward branches, the instructions after calls and system instructions).
    /// </summary>
    public static void Discover(uint* host, ulong pc, out int[] indices, out bool[] isLabel, out bool[] isEntry, int maxInstructions = MaxInstructions)
    {
        int first = -(int)((pc & 0xFFF) >> 2), last = first + 1023;
        var found = new SortedSet<int>();
        var targets = new HashSet<int>();
        var backward = new HashSet<int>();
        var returns = new HashSet<int>();
        var work = new Stack<int>();
        work.Push(0);
        while (work.Count > 0 && found.Count < maxInstructions)
        {
            int i = work.Pop();
            while (i >= first && i <= last && found.Count < maxInstructions && found.Add(i))
            {
                A64Op op = A64Decoder.Decode(host[i]);
                if (BlockCompiler.IsDirectBranch(op))
                {
                    int target = i + BlockCompiler.BranchOffset(host[i], op);
                    targets.Add(target);
                    if (target <= i)
                    {
                        backward.Add(target);
                    }

                    work.Push(target);
                    if (op == A64Op.B)
                    {
                        break;
                    }
                }
                else if (op is A64Op.Br or A64Op.Ret or A64Op.Eret or A64Op.Undefined or A64Op.Brk)
                {
                    break;
                }
                else if (op == A64Op.Bl || op == A64Op.Blr || BlockCompiler.EndsRun(op))
                {
                    returns.Add(i + 1); // where the call returns to, or the run loop resumes
                }

                i++;
            }
        }

        indices = [.. found];
        isLabel = new bool[indices.Length];
        isEntry = new bool[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            int i = indices[k];
            isEntry[k] = i == 0 || backward.Contains(i) || returns.Contains(i);
            isLabel[k] = isEntry[k] || targets.Contains(i) || (k > 0 && indices[k - 1] != i - 1);
        }
    }

    /// <summary>Times the translation of one block: the stopwatch ticks of <see cref="Translate"/>.</summary>
    public static long Elapsed(long start) => Stopwatch.GetTimestamp() - start;
}

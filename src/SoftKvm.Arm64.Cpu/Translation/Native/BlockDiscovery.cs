using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// Which instructions make a block: the code reachable from the entry inside its 4 KiB page through
/// straight-line code and direct branches (B, B.cond, CBZ, CBNZ, TBZ, TBNZ: both ways), on past calls
/// (BL, BLR) and the instructions that return to the run loop (to where control comes back), up to a
/// limit; not past B, BR, RET, ERET, their authenticating forms, BRK or an unallocated encoding. Among them, the labels (where control
/// arrives other than from the instruction before: the entry, branch targets, the instructions after
/// calls and system instructions) and the entries (the first instruction, targets of backward branches,
/// the instructions after calls and system instructions: where the run loop or another block may start).
/// Bitmaps of the page's 1024 instructions, reused from block to block: discovery allocates only its results.
/// </summary>
internal sealed unsafe class BlockDiscovery
{
    private const int PageInstructions = 1024;
    private readonly ulong[] _found = new ulong[PageInstructions / 64];
    private readonly ulong[] _targets = new ulong[PageInstructions / 64];
    private readonly ulong[] _entries = new ulong[PageInstructions / 64];
    private readonly A64Op[] _ops = new A64Op[PageInstructions];
    private readonly int[] _work = new int[PageInstructions];

    /// <summary>The instructions, as indices relative to the entry, ascending.</summary>
    public int[] Indices { get; private set; } = [];

    /// <summary>Their words.</summary>
    public uint[] Words { get; private set; } = [];

    /// <summary>Their ops.</summary>
    public A64Op[] Ops { get; private set; } = [];

    /// <summary>Per instruction: a label.</summary>
    public bool[] IsLabel { get; private set; } = [];

    /// <summary>Per instruction: an entry.</summary>
    public bool[] IsEntry { get; private set; } = [];

    /// <summary>Finds the block entered at <paramref name="host"/> (guest address <paramref name="pc"/>).</summary>
    public void Run(uint* host, ulong pc, int maxInstructions)
    {
        Array.Clear(_found);
        Array.Clear(_targets);
        Array.Clear(_entries);
        int origin = (int)((pc & 0xFFF) >> 2); // the entry's place in its page
        uint* page = host - origin;
        int count = 0, top = 0;
        _work[top++] = origin;
        Mark(_entries, origin);
        while (top > 0 && count < maxInstructions)
        {
            int p = _work[--top];
            while (p >= 0 && p < PageInstructions && count < maxInstructions && !Test(_found, p))
            {
                Mark(_found, p);
                count++;
                uint word = page[p];
                A64Op op = A64Decoder.Decode(word);
                _ops[p] = op;
                if (IsDirectBranch(op) || op == A64Op.Bl)
                {
                    int target = p + BranchOffset(word, op == A64Op.Bl ? A64Op.B : op);
                    if (target >= 0 && target < PageInstructions)
                    {
                        Mark(_targets, target);
                        if (target <= p)
                        {
                            Mark(_entries, target);
                        }

                        if (op != A64Op.Bl && top < _work.Length)
                        {
                            _work[top++] = target; // a call's target is not followed
                        }
                    }

                    if (op == A64Op.B)
                    {
                        break;
                    }

                    if (op == A64Op.Bl && p + 1 < PageInstructions)
                    {
                        Mark(_entries, p + 1); // where the call returns to
                    }
                }
                else if (op is A64Op.Br or A64Op.Ret or A64Op.Eret or A64Op.BranchAuth or A64Op.Undefined or A64Op.Brk)
                {
                    break;
                }
                else if ((op == A64Op.Blr || LeavesStraightLine(op)) && p + 1 < PageInstructions)
                {
                    Mark(_entries, p + 1); // where the call returns to, or the run loop resumes
                }

                p++;
            }
        }

        Indices = new int[count];
        Words = new uint[count];
        Ops = new A64Op[count];
        IsLabel = new bool[count];
        IsEntry = new bool[count];
        int k = 0, previous = int.MinValue;
        for (int w = 0; w < _found.Length; w++)
        {
            for (ulong bits = _found[w]; bits != 0; bits &= bits - 1)
            {
                int p = (w * 64) + BitOperations.TrailingZeroCount(bits);
                Indices[k] = p - origin;
                Words[k] = page[p];
                Ops[k] = _ops[p];
                IsEntry[k] = Test(_entries, p);
                IsLabel[k] = IsEntry[k] || Test(_targets, p) || p != previous + 1;
                previous = p;
                k++;
            }
        }
    }

    /// <summary>Whether <paramref name="op"/> is a PC-relative branch whose target is in the word (B, B.cond, CBZ, CBNZ, TBZ, TBNZ).</summary>
    internal static bool IsDirectBranch(A64Op op) =>
        op is A64Op.B or A64Op.BCond or A64Op.Cbz or A64Op.Cbnz or A64Op.Tbz or A64Op.Tbnz;

    /// <summary>The target of direct branch <paramref name="word"/>, in instructions from the branch.</summary>
    private static int BranchOffset(uint word, A64Op op) => op switch
    {
        A64Op.B => (int)(word << 6) >> 6,
        A64Op.Tbz or A64Op.Tbnz => (int)(word << 13) >> 18,
        _ => (int)(word << 8) >> 13,
    };

    /// <summary>
    /// Whether <paramref name="op"/> may leave for the run loop after it (branches, exception generation,
    /// WFI/WFE/SEV, system register and system instructions, unallocated encodings); NOP, the other hints,
    /// DMB, DSB and CLREX do not.
    /// </summary>
    internal static bool LeavesStraightLine(A64Op op) =>
        op is A64Op.Undefined or (>= A64Op.BCond and <= A64Op.Tbnz)
        && op is not (A64Op.Nop or A64Op.Hint or A64Op.PacHint or A64Op.Bti or A64Op.Yield or A64Op.Dmb or A64Op.Dsb or A64Op.Clrex);

    private static void Mark(ulong[] bits, int p) => bits[p >> 6] |= 1UL << (p & 63);

    private static bool Test(ulong[] bits, int p) => (bits[p >> 6] & (1UL << (p & 63))) != 0;
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// What a block's code depends on besides its instruction words: the exception level (SP_EL0 or SP_EL1,
/// unprivileged accesses), whether unaligned accesses are allowed, and whether SP must be aligned when
/// it is a base register (SCTLR_EL1.SA/SA0 of the EL). A block runs only in the mode it was compiled for.
/// </summary>
[Flags]
internal enum BlockMode : uint
{
    /// <summary>EL0, SP_EL0, alignment checked, no SP alignment check.</summary>
    None = 0,

    /// <summary>PSTATE.EL = 1.</summary>
    El1 = 1,

    /// <summary>SP is SP_EL1 (EL1 with PSTATE.SP = 1).</summary>
    SpEl1 = 2,

    /// <summary>Data accesses need not be aligned (SCTLR_EL1.M = 1, A = 0).</summary>
    Unaligned = 4,

    /// <summary>A base register SP must be 16-byte aligned (SCTLR_EL1.SA at EL1, SA0 at EL0).</summary>
    SpAlignCheck = 8,

    /// <summary>PSTATE.UAO at EL1: LDTR/STTR access as privileged loads and stores (FEAT_UAO).</summary>
    Uao = 16,

    /// <summary>
    /// The model has FEAT_PAuth: the pointer authentication instructions are emitted inline with
    /// <see cref="PacImpdef"/>, else they run in the interpreter (without the feature the hints are NOPs).
    /// </summary>
    Pauth = 32,

    /// <summary>
    /// The model has FEAT_BTI: BR and BLR set PSTATE.BTYPE, and every entry checks the landing pad of a
    /// BTYPE other than 00 (else it leaves for the run loop, where the interpreter takes the Branch Target
    /// exception) and clears it.
    /// </summary>
    Bti = 64,

    /// <summary>
    /// The model's pointer authentication algorithm is the IMPDEF one: PAC*, AUT* and XPAC* are emitted
    /// inline, compiled for the SCTLR_EL1 and TCR_EL1 fields of <see cref="PacConfiguration"/> (bits 8 and up).
    /// </summary>
    PacImpdef = 128,

    /// <summary>The model has FEAT_LSE: the atomics are emitted inline (else they are UNDEFINED, in the interpreter).</summary>
    Lse = 1u << 26,
}

/// <summary>
/// The IR of one block: its guest instructions (position k: index relative to the first instruction,
/// word, op, whether control can arrive there from elsewhere), and the operations built from them, in
/// address order. Reused from block to block (<see cref="Reset"/>) so that translating allocates little.
/// </summary>
internal sealed class IrBlock
{
    private IrInstruction[] _ops = new IrInstruction[256];

    /// <summary>The operations; the first <see cref="Count"/> are used.</summary>
    public IrInstruction[] Ops => _ops;

    /// <summary>How many operations there are.</summary>
    public int Count { get; private set; }

    /// <summary>The guest address of instruction index 0.</summary>
    public ulong Pc { get; private set; }

    /// <summary>The mode the block is compiled for.</summary>
    public BlockMode Mode { get; private set; }

    /// <summary>The instructions, as indices relative to the first, ascending.</summary>
    public int[] Indices { get; private set; } = [];

    /// <summary>The words of <see cref="Indices"/>.</summary>
    public uint[] Words { get; private set; } = [];

    /// <summary>The decoded ops of <see cref="Indices"/>.</summary>
    public A64Op[] Decoded { get; private set; } = [];

    /// <summary>Per instruction: where control can arrive from elsewhere (an entry, or a branch target in the block).</summary>
    public bool[] IsLabel { get; private set; } = [];

    /// <summary>Per instruction: where the run loop or another block may enter (each gets a prologue).</summary>
    public bool[] IsEntry { get; private set; } = [];

    /// <summary>The host address of instruction index 0 (guest RAM).</summary>
    public unsafe uint* Host { get; private set; }

    /// <summary>Per instruction: its first operation (entry <c>Indices.Length</c>: the end).</summary>
    public int[] FirstOp { get; private set; } = [];

    private int[] _previous = [];

    /// <summary>Starts a new block of the given instructions.</summary>
    public unsafe void Reset(uint* host, ulong pc, BlockMode mode, int[] indices, uint[] words, A64Op[] decoded, bool[] isLabel, bool[] isEntry)
    {
        Host = host;
        IsEntry = isEntry;
        Pc = pc;
        Mode = mode;
        Indices = indices;
        Words = words;
        Decoded = decoded;
        IsLabel = isLabel;
        if (FirstOp.Length < indices.Length + 1)
        {
            FirstOp = new int[indices.Length + 1];
        }

        foreach (int i in _previous)
        {
            _positions[i + 1024] = 0;
        }

        for (int k = 0; k < indices.Length; k++)
        {
            _positions[indices[k] + 1024] = (short)(k + 1);
        }

        _previous = indices;
        Count = 0;
    }

    // Position + 1 of each instruction of the page, by index + 1024 (0: not in the block); an index is
    // within 1023 of the entry both ways.
    private readonly short[] _positions = new short[2048];

    /// <summary>The position of the instruction at index <paramref name="index"/>, or -1 when it is not in the block.</summary>
    public int PositionOf(int index) => (uint)(index + 1024) < 2048 ? _positions[index + 1024] - 1 : -1;

    /// <summary>The guest address of instruction index <paramref name="index"/>.</summary>
    public ulong PcOf(int index) => Pc + (ulong)(4L * index);

    private bool[] _flagsLiveIn = new bool[257];

    /// <summary>Per operation: whether NZCV is live before it (<see cref="FlagLiveness"/>); one more entry for the end, live.</summary>
    public bool[] FlagsLiveIn => _flagsLiveIn;

    /// <summary>Clears <see cref="FlagsLiveIn"/> for <see cref="Count"/> operations (the end live) and returns it.</summary>
    public bool[] PrepareFlagsLiveIn()
    {
        if (_flagsLiveIn.Length < Count + 1)
        {
            _flagsLiveIn = new bool[_ops.Length + 1];
        }

        Array.Clear(_flagsLiveIn, 0, Count + 1);
        _flagsLiveIn[Count] = true;
        return _flagsLiveIn;
    }

    /// <summary>Appends <paramref name="op"/>.</summary>
    public void Add(in IrInstruction op)
    {
        if (Count == _ops.Length)
        {
            Array.Resize(ref _ops, _ops.Length * 2);
        }

        _ops[Count++] = op;
    }

    /// <summary>Drops the operations from <paramref name="count"/> on (an instruction that turned out to need the fallback).</summary>
    public void Truncate(int count) => Count = count;

    /// <summary>Marks where instruction <paramref name="k"/>'s operations begin (call before adding them).</summary>
    public void BeginInstruction(int k) => FirstOp[k] = Count;

    /// <summary>Marks the end of the last instruction.</summary>
    public void End() => FirstOp[Indices.Length] = Count;
}

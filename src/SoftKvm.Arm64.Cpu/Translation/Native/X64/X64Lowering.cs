using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Generates the x86-64 code of one block from its IR (after <see cref="ConstantFolding"/> and
/// <see cref="FlagLiveness"/>). The code is laid out as: one prologue per entry (exit request and budget
/// check, the stale check of the block's words, the mapped guest registers loaded), the body in address
/// order (a guest instruction's operations inline, one label per place control can arrive at), then
/// the out-of-line paths (exits, backward-branch checks, the interpreter slow paths).
/// <para>
/// NZCV lives in the host flags between the operation that sets it and the ones that read it, with the
/// carry inverted after a subtraction (<see cref="IrFlags.Sub"/>), as x86 computes it; where something
/// in between would destroy the host flags while NZCV is live, they are saved to the context as a flags
/// image (LAHF + SETO, carry made ARM's first), which is also their form at labels, at exits and
/// across helper calls. The run loop and the helpers convert between the image and PSTATE.NZCV.
/// </para>
/// <para>
/// Retired instructions are counted down in <see cref="X64Layout.Budget"/>: the count since the last
/// update is known at compile time and subtracted where paths meet and where the block leaves, so every
/// exit leaves the exact count.
/// </para>
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private readonly X64Assembler _asm;
    private readonly Reg[] _hostOf = new Reg[GuestRegisterAllocation.GuestSlots];
    private readonly List<Stub> _stubs = [];
    private readonly List<(int Offset, AsmLabel Label)> _entries = [];
    private readonly List<(ulong TargetPc, nint Slot, AsmLabel Unlinked)> _exits = [];
    private AsmLabel[] _insnLabels = [];
    private AsmLabel?[] _checkLabels = [];
    private int[] _bounds = new int[NativeTranslator.MaxInstructions];
    private AsmLabel[] _endLabels = [];
    private bool[] _endUsed = [];
    private IrBlock _b = null!;
    private NativeCodeCache _runtime = null!;
    private ulong _written;
    private int _writtenCount;
    private int _blockId;
    private AsmLabel _enterRoutine, _storeRoutine, _loadRoutine, _interpretRoutine, _leaveRoutine;
    private bool _storeUsed, _interpretUsed;

    // State while the body is generated.
    private IrFlags _eflags;
    private bool _imageValid;
    private int _pending;
    private bool _reachable;
    private int _op;
    private int _k;

    public X64Lowering(X64Assembler asm) => _asm = asm;

    /// <summary>The entries generated (instruction offset, label of the prologue).</summary>
    public IReadOnlyList<(int Offset, AsmLabel Label)> Entries => _entries;

    /// <summary>The exits to known addresses (target, link slot or 0, label of the unlinked tail).</summary>
    public IReadOnlyList<(ulong TargetPc, nint Slot, AsmLabel Unlinked)> Exits => _exits;

    /// <summary>The label bound where the body's code of instruction <paramref name="k"/> ends (for the code dump).</summary>
    public AsmLabel EndOf(int k) => _endLabels[k];

    /// <summary>How many guest registers the block holds in host registers.</summary>
    public int MappedRegisters { get; private set; }

    /// <summary>Generates the code of <paramref name="block"/> (id <paramref name="blockId"/>) into the assembler.</summary>
    public void Lower(IrBlock block, int blockId, NativeCodeCache runtime)
    {
        _b = block;
        _blockId = blockId;
        _runtime = runtime;
        _stubs.Clear();
        _entries.Clear();
        _exits.Clear();
        _written = GuestRegisterAllocation.Allocate(block, _hostOf);
        MappedRegisters = 0;
        _writtenCount = 0;
        for (int g = 0; g < _hostOf.Length; g++)
        {
            MappedRegisters += _hostOf[g] == Reg.None ? 0 : 1;
            _writtenCount += _hostOf[g] != Reg.None && ((_written >> g) & 1) != 0 ? 1 : 0;
        }

        _enterRoutine = _asm.NewLabel();
        _storeRoutine = _asm.NewLabel();
        _loadRoutine = _asm.NewLabel();
        _interpretRoutine = _asm.NewLabel();
        _leaveRoutine = _asm.NewLabel();
        _storeUsed = _interpretUsed = false;
        ResetExitHelpers();

        int n = block.Indices.Length;
        _insnLabels = new AsmLabel[n];
        _checkLabels = new AsmLabel?[n];
        for (int i = 0; i < block.Count; i++)
        {
            ref IrInstruction op = ref block.Ops[i];
            if (op.Op == IrOpcode.Branch || op.Op.IsConditionalBranch())
            {
                int k = block.PositionOf(op.Target);
                if (k >= 0 && op.Target <= block.Indices[op.Insn] && _checkLabels[k] is null)
                {
                    _checkLabels[k] = _asm.NewLabel();
                }
            }
        }

        if (_bounds.Length < n)
        {
            _bounds = new int[n];
        }

        BudgetBounds.Compute(block, _bounds);
        _endLabels = new AsmLabel[n];
        _endUsed = new bool[n];
        for (int k = 0; k < n; k++)
        {
            if (block.IsLabel[k])
            {
                _insnLabels[k] = _asm.NewLabel();
            }

            _endLabels[k] = _asm.NewLabel();
        }

        EmitPrologues();
        EmitBody();
        EmitStubs();
        EmitSharedRoutines();
        EmitExitHelperRoutine();
        _asm.Int3(); // nothing falls off the end (and a label at the end has an instruction)
    }

    // ---- operands ----

    private enum LocKind : byte
    {
        Reg,
        Mem,
        Imm,
    }

    private readonly record struct Loc(LocKind Kind, Reg Reg, int Disp, long Imm);

    private int SlotOf(int guest) => guest == IrOperand.Sp
        ? ((_b.Mode & BlockMode.SpEl1) != 0 ? ContextOffsets.SpEl1 : ContextOffsets.SpEl0)
        : ContextOffsets.X(guest);

    private static Mem Ctx(int disp) => new(X64Layout.Context, disp);

    private Loc Locate(IrOperand o) => o.Kind switch
    {
        IrKind.Reg when _hostOf[o.Index] != Reg.None => new Loc(LocKind.Reg, _hostOf[o.Index], 0, 0),
        IrKind.Reg => new Loc(LocKind.Mem, Reg.None, SlotOf(o.Index), 0),
        IrKind.Temp => new Loc(LocKind.Reg, X64Layout.Temp(o.Index), 0, 0),
        IrKind.Const => new Loc(LocKind.Imm, Reg.None, 0, o.Value),
        _ => throw new InvalidOperationException("IR operand missing"),
    };

    /// <summary>
    /// r = the operand, for an operation of size <paramref name="w64"/> (a 32-bit operation reads the low
    /// half; its result is zero-extended by the host). <paramref name="truncate"/>: r itself must hold the
    /// value zero-extended from 32 bits (a move is the operation).
    /// </summary>
    private void LoadTo(Reg r, IrOperand o, bool w64, bool truncate = false)
    {
        Loc l = Locate(o);
        switch (l.Kind)
        {
            case LocKind.Reg:
                if (l.Reg != r || (truncate && !w64))
                {
                    _asm.Mov(r, l.Reg, w64);
                }

                break;
            case LocKind.Mem:
                _asm.Load(r, Ctx(l.Disp), w64 ? 8 : 4);
                break;
            default:
                _asm.MovImm(r, w64 ? (ulong)l.Imm : (uint)l.Imm);
                break;
        }
    }

    /// <summary>The operand in a register: its own, or <paramref name="scratch"/> loaded with it.</summary>
    private Reg InReg(IrOperand o, Reg scratch, bool w64)
    {
        Loc l = Locate(o);
        if (l.Kind == LocKind.Reg)
        {
            return l.Reg;
        }

        LoadTo(scratch, o, w64);
        return scratch;
    }

    /// <summary>The register to compute a result for <paramref name="dst"/> in (its own, or <paramref name="scratch"/>).</summary>
    private Reg DstReg(IrOperand dst, Reg scratch = Reg.Rax)
    {
        if (dst.Kind == IrKind.None)
        {
            return scratch;
        }

        Loc l = Locate(dst);
        return l.Kind == LocKind.Reg ? l.Reg : scratch;
    }

    /// <summary>Writes <paramref name="value"/> (all 64 bits) to <paramref name="dst"/> unless it is there already.</summary>
    private void Commit(IrOperand dst, Reg value)
    {
        if (dst.Kind == IrKind.None)
        {
            return;
        }

        Loc l = Locate(dst);
        if (l.Kind == LocKind.Mem)
        {
            _asm.Store(Ctx(l.Disp), value, 8);
        }
        else if (l.Reg != value)
        {
            _asm.Mov(l.Reg, value);
        }
    }

    private bool IsIn(IrOperand o, Reg r)
    {
        Loc l = Locate(o);
        return l.Kind == LocKind.Reg && l.Reg == r;
    }

    /// <summary>
    /// Stores the mapped guest registers the block writes (before an exit or a helper call): inline when
    /// they are few, else a call of the block's store routine.
    /// </summary>
    private void StoreWritten()
    {
        if (_writtenCount > 2)
        {
            _storeUsed = true;
            _asm.Call(_storeRoutine);
            return;
        }

        StoreWrittenInline();
    }

    private void StoreWrittenInline()
    {
        for (int g = 0; g < _hostOf.Length; g++)
        {
            if (_hostOf[g] != Reg.None && ((_written >> g) & 1) != 0)
            {
                _asm.Store(Ctx(SlotOf(g)), _hostOf[g], 8);
            }
        }
    }

    /// <summary>Loads every mapped guest register (at an entry, after a helper call).</summary>
    private void LoadMapped()
    {
        for (int g = 0; g < _hostOf.Length; g++)
        {
            if (_hostOf[g] != Reg.None)
            {
                _asm.Load(_hostOf[g], Ctx(SlotOf(g)), 8);
            }
        }
    }

    private ulong ExitCode(NativeExit reason, int index) => (byte)reason | ((ulong)(uint)index << 8) | ((ulong)(uint)_blockId << 32);

    /// <summary>Leaves for the run loop with <paramref name="code"/> (registers and flags already in the context).</summary>
    private void ReturnToRunLoop(ulong code)
    {
        _asm.MovImm(Reg.Rax, code);
        _asm.JmpAbsolute(_runtime.Epilogue);
    }

    /// <summary>budget -= the instructions retired since the last update (LEA: the host flags stay).</summary>
    private void SyncBudget(int retired)
    {
        if (retired != 0)
        {
            _asm.Lea(X64Layout.Budget, new Mem(X64Layout.Budget, -retired));
        }
    }

    // ---- flags ----

    /// <summary>Saves NZCV from the host flags (of kind <paramref name="kind"/>) to the context's flags image.</summary>
    private void SaveFlags(IrFlags kind)
    {
        if (kind == IrFlags.Sub)
        {
            _asm.Cmc(); // the image keeps ARM's carry
        }

        _asm.Lahf();
        _asm.Setcc(Cc.O, Reg.Rax);
        _asm.Store(Ctx(ContextOffsets.FlagsImage), Reg.Rax, 2);
    }

    /// <summary>Saves the live host flags before an operation that destroys them (or reads them from the context).</summary>
    private void PrepareClobber()
    {
        if (_eflags != IrFlags.None)
        {
            if (!_imageValid && _b.FlagsLiveIn[_op] && _lazy < 0)
            {
                SaveFlags(_eflags);
                _imageValid = true;
            }

            _eflags = IrFlags.None;
        }
    }

    /// <summary>Makes the context's image hold NZCV if the host flags hold it alone (before an exit or a label).</summary>
    private void FlushFlags()
    {
        if (_eflags != IrFlags.None && !_imageValid)
        {
            SaveFlags(_eflags);
            _eflags = _eflags == IrFlags.Sub ? IrFlags.Add : _eflags;
            _imageValid = true;
        }
        else if (LazyOnly)
        {
            SaveLazy(_lazy);
            _eflags = IrFlags.Add; // SaveFlags made the carry ARM's
            _imageValid = true;
        }
    }

    /// <summary>The host flags from the image: OF from AL (add al, 0x7f), the rest from AH (sahf).</summary>
    private void RestoreFlags()
    {
        _asm.Load(Reg.Rax, Ctx(ContextOffsets.FlagsImage), 2);
        _asm.Alu8Imm(Alu.Add, Reg.Rax, 0x7F);
        _asm.Sahf();
        _eflags = IrFlags.Add;
    }

    private static readonly Cc?[] SubConditions = [Cc.E, Cc.NE, Cc.AE, Cc.B, Cc.S, Cc.NS, Cc.O, Cc.NO, Cc.A, Cc.BE, Cc.GE, Cc.L, Cc.G, Cc.LE];
    private static readonly Cc?[] AddConditions = [Cc.E, Cc.NE, Cc.B, Cc.AE, Cc.S, Cc.NS, Cc.O, Cc.NO, null, null, Cc.GE, Cc.L, Cc.G, Cc.LE];

    /// <summary>
    /// The host condition that holds when A64 condition <paramref name="cond"/> (0-13) does, with NZCV put
    /// in the host flags first if needed (and the carry flipped when the condition needs the other sense).
    /// </summary>
    private Cc Condition(int cond)
    {
        EnsureHostFlags();
        Cc? cc = (_eflags == IrFlags.Sub ? SubConditions : AddConditions)[cond];
        if (cc is null)
        {
            _asm.Cmc();
            _eflags = _eflags == IrFlags.Sub ? IrFlags.Add : IrFlags.Sub;
            cc = (_eflags == IrFlags.Sub ? SubConditions : AddConditions)[cond];
        }

        return cc!.Value;
    }

    /// <summary>The flags image (AH:AL) of an NZCV value in bits 3:0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // NativeAOT does not inline it on its own (an exit path)
    public static ushort ImageOf(uint nzcv4)
    {
        uint n = (nzcv4 >> 3) & 1, z = (nzcv4 >> 2) & 1, c = (nzcv4 >> 1) & 1, v = nzcv4 & 1;
        return (ushort)((((n << 7) | (z << 6) | 2 | c) << 8) | v);
    }
}

using System.Reflection;
using System.Reflection.Emit;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>How a block handles one instruction (<see cref="X86BlockCompiler"/>); <see cref="Stop"/> ends the block before it.</summary>
internal enum X86BlockOp
{
    Stop,
    Generic,
    Nop,
    Mov,
    Movzx,
    Movsx,
    Lea,
    Binary,
    IncDec,
    Neg,
    Not,
    Shift,
    DoubleShift,
    Mul,
    Imul,
    Setcc,
    Push,
    Pop,
    Jcc,
    Jmp,
    Call,
    Ret,
}

/// <summary>
/// The IL of a block's instructions. Operands are read into locals before anything is written, so an
/// instruction leaves (to the interpreter, through its leave label) with nothing of it committed; the
/// retired count is kept at compile time between the places where paths meet (<see cref="Pending"/>).
/// Arguments of the method: 0 the block state, 1 the CPU, 2 the instruction limit.
/// </summary>
internal sealed unsafe class X86BlockEmitter
{
    private static readonly MethodInfo s_gpr = Method(nameof(X86Cpu.BlockGpr));
    private static readonly MethodInfo s_storeGpr = Method(nameof(X86Cpu.BlockStoreGpr));
    private static readonly MethodInfo s_rflags = Method(nameof(X86Cpu.BlockRflags));
    private static readonly MethodInfo s_storeRflags = Method(nameof(X86Cpu.BlockStoreRflags));
    private static readonly MethodInfo s_writeGpr = Method(nameof(X86Cpu.WritePart));
    private static readonly MethodInfo s_segmentBase = Method(nameof(X86Cpu.BlockSegmentBase));
    private static readonly MethodInfo s_readPointer = Method(nameof(X86Cpu.BlockReadPointer));
    private static readonly MethodInfo s_writePointer = Method(nameof(X86Cpu.BlockWritePointer));
    private static readonly MethodInfo s_load = Method(nameof(X86Cpu.BlockLoad));
    private static readonly MethodInfo s_store = Method(nameof(X86Cpu.BlockStore));
    private static readonly MethodInfo s_binary = Method(nameof(X86Cpu.BlockBinary));
    private static readonly MethodInfo s_incDec = Method(nameof(X86Cpu.BlockIncDec));
    private static readonly MethodInfo s_neg = Method(nameof(X86Cpu.BlockNeg));
    private static readonly MethodInfo s_shift = Method(nameof(X86Cpu.BlockShift));
    private static readonly MethodInfo s_doubleShift = Method(nameof(X86Cpu.BlockDoubleShift));
    private static readonly MethodInfo s_mul = Method(nameof(X86Cpu.BlockMul));
    private static readonly MethodInfo s_imul = Method(nameof(X86Cpu.BlockImul));
    private static readonly MethodInfo s_condition = Method(nameof(X86Cpu.BlockCondition));
    private static readonly MethodInfo s_execute = Method(nameof(X86Cpu.BlockExecute));
    private static readonly MethodInfo s_setRip = Method(nameof(X86Cpu.BlockSetRip));
    private static readonly MethodInfo s_mayGoOn = Method(nameof(X86Cpu.BlockMayGoOn));
    private static readonly MethodInfo s_canonical = Method(nameof(X86Cpu.IsCanonical));
    private static readonly MethodInfo s_signExtend = typeof(Alu).GetMethod(nameof(Alu.SignExtend))!;
    private static readonly FieldInfo s_instructions = typeof(X86BlockState).GetField(nameof(X86BlockState.Instructions))!;

    private readonly ILGenerator _il;
    private readonly int _bitness;
    private readonly int _count;
    private readonly LocalBuilder _retired;
    private readonly LocalBuilder _a;
    private readonly LocalBuilder _b;
    private readonly LocalBuilder _r;
    private readonly LocalBuilder _p;
    private readonly LocalBuilder _q;
    private readonly List<(Label Label, ulong Rip, int Pending)> _leaves = [];

    private readonly List<(Label Label, ulong Next, int Pending)> _written = [];
    private readonly nint _codeHost;
    private readonly int _codeLength;
    private readonly byte[] _page;
    private readonly int _first;
    private ulong _next;
    private Label? _writtenHere;

    private readonly LocalBuilder?[] _gprs = new LocalBuilder?[16];
    private readonly LocalBuilder _flags;

    /// <summary>An emitter for a block of <paramref name="count"/> instructions compiled from bytes
    /// [<paramref name="first"/>, <paramref name="end"/>) of <paramref name="page"/>, which guest memory holds at <paramref name="pageHost"/>;
    /// it keeps the registers in <paramref name="usedGprs"/> (a bit per number) in locals.</summary>
    public X86BlockEmitter(ILGenerator il, int bitness, int count, nint pageHost, byte[] page, int first, int end, int usedGprs)
    {
        _codeHost = pageHost + first;
        _codeLength = end - first;
        _page = page;
        _first = first;
        _il = il;
        _bitness = bitness;
        _count = count;
        _retired = il.DeclareLocal(typeof(int));
        _a = il.DeclareLocal(typeof(ulong));
        _b = il.DeclareLocal(typeof(ulong));
        _r = il.DeclareLocal(typeof(ulong));
        _p = il.DeclareLocal(typeof(byte*));
        _q = il.DeclareLocal(typeof(byte*));
        _flags = il.DeclareLocal(typeof(ulong));
        for (int g = 0; g < 16; g++)
        {
            if ((usedGprs & (1 << g)) != 0)
            {
                _gprs[g] = il.DeclareLocal(typeof(ulong));
            }
        }
    }

    // ---- The guest registers the block keeps in locals ----

    /// <summary>Loads the registers the block uses, and RFLAGS, into their locals (at entry, and after a handler ran).</summary>
    public void LoadState()
    {
        foreach (var (g, local) in CachedRegisters())
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldc_I4, g);
            _il.Emit(OpCodes.Call, s_gpr);
            _il.Emit(OpCodes.Stloc, local);
        }

        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Call, s_rflags);
        _il.Emit(OpCodes.Stloc, _flags);
    }

    /// <summary>Writes the locals back to the register file (wherever the block leaves, and before a handler runs).</summary>
    private void StoreState()
    {
        foreach (var (g, local) in CachedRegisters())
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldc_I4, g);
            _il.Emit(OpCodes.Ldloc, local);
            _il.Emit(OpCodes.Call, s_storeGpr);
        }

        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldloc, _flags);
        _il.Emit(OpCodes.Call, s_storeRflags);
    }

    private IEnumerable<(int Number, LocalBuilder Local)> CachedRegisters()
    {
        for (int g = 0; g < 16; g++)
        {
            if (_gprs[g] is LocalBuilder local)
            {
                yield return (g, local);
            }
        }
    }

    private LocalBuilder Gpr(int index) =>
        _gprs[index] ?? throw new InvalidOperationException($"x86 block: register {index} is not among the block's");

    /// <summary>Instructions retired since the <c>retired</c> local was last brought up to date.</summary>
    public int Pending { get; set; }

    private static MethodInfo Method(string name) =>
        typeof(X86Cpu).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
        ?? throw new InvalidOperationException($"X86Cpu.{name} is missing");

    private int StackSize => _bitness == 64 ? 8 : 4;

    private ulong StackMask => _bitness == 64 ? ulong.MaxValue : 0xFFFFFFFF;

    // ---- Block structure ----

    /// <summary>if (the block's bytes in guest memory differ from the ones compiled) goto <paramref name="stale"/>; eight bytes per compare.</summary>
    public void EmitStaleCheck(Label stale)
    {
        nint pageHost = _codeHost - _first;
        byte[] page = _page;
        int first = _first, end = _first + _codeLength;
        for (int at = first; at < end;)
        {
            int left = end - at;
            int size = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            if (left > 8 && left < 16)
            {
                size = 8;
            }

            ulong expected = 0;
            for (int b = 0; b < size; b++)
            {
                expected |= (ulong)page[at + b] << (8 * b);
            }

            _il.Emit(OpCodes.Ldc_I8, (long)(pageHost + at));
            _il.Emit(OpCodes.Conv_U);
            _il.Emit(OpCodes.Unaligned, (byte)1);
            switch (size)
            {
                case 8:
                    _il.Emit(OpCodes.Ldind_I8);
                    _il.Emit(OpCodes.Ldc_I8, (long)expected);
                    break;
                case 4:
                    _il.Emit(OpCodes.Ldind_U4);
                    _il.Emit(OpCodes.Ldc_I4, unchecked((int)(uint)expected));
                    break;
                case 2:
                    _il.Emit(OpCodes.Ldind_U2);
                    _il.Emit(OpCodes.Ldc_I4, (int)expected);
                    break;
                default:
                    _il.Emit(OpCodes.Ldind_U1);
                    _il.Emit(OpCodes.Ldc_I4, (int)expected);
                    break;
            }

            _il.Emit(OpCodes.Bne_Un, stale);
            at += size;
        }
    }

    // retired += Pending
    public void SyncRetired()
    {
        if (Pending != 0)
        {
            _il.Emit(OpCodes.Ldloc, _retired);
            _il.Emit(OpCodes.Ldc_I4, Pending);
            _il.Emit(OpCodes.Add);
            _il.Emit(OpCodes.Stloc, _retired);
            Pending = 0;
        }
    }

    /// <summary>
    /// Starts the instruction at <paramref name="rip"/>, which ends at <paramref name="next"/>; returns the label
    /// that leaves before it (emitted at the end by <see cref="EmitLeaves"/>).
    /// </summary>
    public Label Begin(ulong rip, ulong next)
    {
        _next = next;
        _writtenHere = null;
        Label l = _il.DefineLabel();
        _leaves.Add((l, rip, Pending));
        return l;
    }

    /// <summary>
    /// The label a store that wrote into the block's own code goes to: the instruction has retired, and the
    /// block leaves for the next one, where the run loop finds the changed code (x86 sees its own stores to
    /// the instruction stream at once).
    /// </summary>
    private Label Written()
    {
        if (_writtenHere is not Label l)
        {
            l = _il.DefineLabel();
            _written.Add((l, _next, Pending + 1));
            _writtenHere = l;
        }

        return l;
    }

    /// <summary>After a handler that may have written memory: if the block's code changed, leave after the instruction.</summary>
    public void CheckCodeUnchanged() => EmitStaleCheck(Written());

    // leave: cpu.Rip = rip; return ((retired + pending) << 1) | 1;   written: cpu.Rip = next; return (retired + pending) << 1;
    public void EmitLeaves()
    {
        foreach (var (label, next, pending) in _written)
        {
            _il.MarkLabel(label);
            SetRip(next);
            StoreState();
            LoadRetired(pending);
            _il.Emit(OpCodes.Ldc_I4_1);
            _il.Emit(OpCodes.Shl);
            _il.Emit(OpCodes.Ret);
        }

        foreach (var (label, rip, pending) in _leaves)
        {
            _il.MarkLabel(label);
            SetRip(rip);
            StoreState();
            LoadRetired(pending);
            _il.Emit(OpCodes.Ldc_I4_1);
            _il.Emit(OpCodes.Shl);
            _il.Emit(OpCodes.Ldc_I4_1);
            _il.Emit(OpCodes.Or);
            _il.Emit(OpCodes.Ret);
        }
    }

    private void SetRip(ulong rip)
    {
        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldc_I8, (long)rip);
        _il.Emit(OpCodes.Call, s_setRip);
    }

    private void LoadRetired(int pending)
    {
        _il.Emit(OpCodes.Ldloc, _retired);
        if (pending != 0)
        {
            _il.Emit(OpCodes.Ldc_I4, pending);
            _il.Emit(OpCodes.Add);
        }
    }

    // cpu.Rip = rip; return (retired + Pending) << 1;
    public void Exit(ulong rip)
    {
        SetRip(rip);
        ExitToRip();
    }

    // return (retired + Pending) << 1;   (RIP already set)
    public void ExitToRip()
    {
        StoreState();
        LoadRetired(Pending);
        _il.Emit(OpCodes.Ldc_I4_1);
        _il.Emit(OpCodes.Shl);
        _il.Emit(OpCodes.Ret);
    }

    /// <summary>
    /// A taken direct branch (already counted in <see cref="Pending"/>): to its label when the target is in the
    /// block (a backward one only while the block may go round again), else out of the block.
    /// </summary>
    public void Jump(int target, ulong targetRip, int from, Dictionary<int, Label> labels)
    {
        if (!labels.TryGetValue(target, out Label label))
        {
            Exit(targetRip);
            return;
        }

        int pending = Pending;
        SyncRetired();
        if (target <= from)
        {
            // if (!BlockMayGoOn(cpu) || retired + count > limit) { cpu.Rip = target; return retired << 1; }
            Label leave = _il.DefineLabel(), stay = _il.DefineLabel();
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Call, s_mayGoOn);
            _il.Emit(OpCodes.Brfalse, leave);
            _il.Emit(OpCodes.Ldloc, _retired);
            _il.Emit(OpCodes.Ldc_I4, _count);
            _il.Emit(OpCodes.Add);
            _il.Emit(OpCodes.Conv_I8);
            _il.Emit(OpCodes.Ldarg_2);
            _il.Emit(OpCodes.Ble, stay);
            _il.MarkLabel(leave);
            Exit(targetRip);
            _il.MarkLabel(stay);
        }

        _il.Emit(OpCodes.Br, label);
        Pending = pending;
    }

    public void Condition(ConditionCode cc)
    {
        _il.Emit(OpCodes.Ldloc, _flags);
        _il.Emit(OpCodes.Ldc_I4, (int)cc);
        _il.Emit(OpCodes.Call, s_condition);
    }

    /// <summary>cpu.Rip = rip; if (!BlockExecute(cpu, ref state.Instructions[index])) goto leave;</summary>
    public void Generic(int index, ulong rip, Label leave)
    {
        SetRip(rip);
        StoreState();
        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldfld, s_instructions);
        _il.Emit(OpCodes.Ldc_I4, index);
        _il.Emit(OpCodes.Ldelema, typeof(Instruction));
        _il.Emit(OpCodes.Call, s_execute);
        _il.Emit(OpCodes.Brfalse, leave);
        LoadState();
    }

    // ---- Operands ----

    private void LoadGpr(int index) => _il.Emit(OpCodes.Ldloc, Gpr(index));

    private void Mask(ulong mask)
    {
        if (mask != ulong.MaxValue)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)mask);
            _il.Emit(OpCodes.And);
        }
    }

    /// <summary>Pushes the value of register <paramref name="r"/> (zero-extended), as <see cref="X86Cpu.GetReg"/>.</summary>
    private void LoadRegister(Register r)
    {
        LoadGpr(X86Cpu.RegIndex(r));
        if (r is Register.AH or Register.CH or Register.DH or Register.BH)
        {
            _il.Emit(OpCodes.Ldc_I4_8);
            _il.Emit(OpCodes.Shr_Un);
            Mask(0xFF);
            return;
        }

        Mask(X86Cpu.SizeMask(X86Cpu.RegSize(r)));
    }

    /// <summary>Writes <paramref name="value"/> (a local) to register <paramref name="r"/>, as <see cref="X86Cpu.SetReg"/>.</summary>
    private void StoreRegister(Register r, LocalBuilder value)
    {
        _il.Emit(OpCodes.Ldloca, Gpr(X86Cpu.RegIndex(r)));
        _il.Emit(OpCodes.Ldc_I4, X86Cpu.RegSize(r));
        _il.Emit(r is Register.AH or Register.CH or Register.DH or Register.BH ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
        _il.Emit(OpCodes.Ldloc, value);
        _il.Emit(OpCodes.Call, s_writeGpr);
    }

    private void SetStackPointer(LocalBuilder value)
    {
        _il.Emit(OpCodes.Ldloca, Gpr(Cpu.Gpr.Rsp));
        _il.Emit(OpCodes.Ldc_I4, StackSize);
        _il.Emit(OpCodes.Ldc_I4_0);
        _il.Emit(OpCodes.Ldloc, value);
        _il.Emit(OpCodes.Call, s_writeGpr);
    }

    /// <summary>Pushes the effective address of the memory operand, as <see cref="X86Cpu.EffectiveAddress"/>.</summary>
    private void EffectiveAddress(ref Instruction i)
    {
        Register b = i.MemoryBase, x = i.MemoryIndex;
        if (b == Register.RIP)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)i.MemoryDisplacement64);
            return;
        }

        if (b == Register.EIP)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)(i.MemoryDisplacement64 & 0xFFFFFFFF));
            return;
        }

        int asz = 0;
        _il.Emit(OpCodes.Ldc_I8, (long)i.MemoryDisplacement64);
        if (b != Register.None)
        {
            LoadGpr(X86Cpu.RegIndex(b));
            _il.Emit(OpCodes.Add);
            asz = X86Cpu.RegSize(b);
        }

        if (x != Register.None)
        {
            LoadGpr(X86Cpu.RegIndex(x));
            int shift = System.Numerics.BitOperations.TrailingZeroCount(i.MemoryIndexScale);
            if (shift != 0)
            {
                _il.Emit(OpCodes.Ldc_I4, shift);
                _il.Emit(OpCodes.Shl);
            }

            _il.Emit(OpCodes.Add);
            asz = X86Cpu.RegSize(x);
        }

        if (asz == 0)
        {
            asz = i.MemoryDisplSize < 2 ? _bitness / 8 : i.MemoryDisplSize;
        }

        Mask(X86Cpu.SizeMask(asz));
    }

    /// <summary>Pushes the linear address of the memory operand (flat segments: the run loop checked them; FS/GS by their base in 64-bit mode).</summary>
    private void LinearAddress(ref Instruction i)
    {
        EffectiveAddress(ref i);
        if (i.MemorySegment is Register.FS or Register.GS)
        {
            _il.Emit(OpCodes.Ldarg_1);
            _il.Emit(OpCodes.Ldc_I4, i.MemorySegment - Register.ES);
            _il.Emit(OpCodes.Call, s_segmentBase);
            _il.Emit(OpCodes.Add);
        }
    }

    // pointer = BlockRead/WritePointer(cpu, <address>, size); if (pointer == null) goto leave;
    private void Pointer(Action address, int size, bool write, LocalBuilder pointer, Label leave)
    {
        _il.Emit(OpCodes.Ldarg_1);
        address();
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(OpCodes.Call, write ? s_writePointer : s_readPointer);
        _il.Emit(OpCodes.Stloc, pointer);
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Brfalse, leave);
    }

    private void MemoryPointer(Instruction i, int size, bool write, LocalBuilder pointer, Label leave) =>
        Pointer(() => LinearAddress(ref i), size, write, pointer, leave);

    private void Load(LocalBuilder pointer, int size)
    {
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(OpCodes.Call, s_load);
    }

    // *pointer = value; if (pointer - code < codeLength + size - 1) goto written;   (a store overlapping the block's bytes)
    private void Store(LocalBuilder pointer, int size, LocalBuilder value)
    {
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(OpCodes.Ldloc, value);
        _il.Emit(OpCodes.Call, s_store);
        _il.Emit(OpCodes.Ldloc, pointer);
        _il.Emit(OpCodes.Ldc_I8, (long)(_codeHost - (size - 1)));
        _il.Emit(OpCodes.Conv_U);
        _il.Emit(OpCodes.Sub);
        _il.Emit(OpCodes.Ldc_I8, (long)(_codeLength + size - 1));
        _il.Emit(OpCodes.Conv_U);
        _il.Emit(OpCodes.Blt_Un, Written());
    }

    /// <summary>
    /// target = operand <paramref name="op"/> of <paramref name="size"/> bytes (register, immediate or memory,
    /// read through <paramref name="pointer"/>; a destination is looked up for writing when <paramref name="rmw"/>).
    /// </summary>
    private void Read(ref Instruction i, int op, int size, LocalBuilder target, LocalBuilder pointer, bool rmw, Label leave)
    {
        switch (i.GetOpKind(op))
        {
            case OpKind.Register:
                LoadRegister(i.GetOpRegister(op));
                break;
            case OpKind.Memory:
                MemoryPointer(i, size, rmw, pointer, leave);
                Load(pointer, size);
                break;
            default:
                _il.Emit(OpCodes.Ldc_I8, (long)(i.GetImmediate(op) & X86Cpu.SizeMask(size)));
                break;
        }

        _il.Emit(OpCodes.Stloc, target);
    }

    /// <summary>Writes <paramref name="value"/> to operand 0: a register, or memory through the pointer its read or look-up left.</summary>
    private void WriteDestination(ref Instruction i, int size, LocalBuilder value)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            StoreRegister(i.Op0Register, value);
        }
        else
        {
            Store(_p, size, value);
        }
    }

    // ---- Instructions ----

    /// <summary>A compiled instruction that is not a branch.</summary>
    public void Plain(ref Instruction i, X86BlockOp op, ulong need, Label leave)
    {
        switch (op)
        {
            case X86BlockOp.Nop:
                return;
            case X86BlockOp.Mov:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                if (i.Op0Kind == OpKind.Memory)
                {
                    MemoryPointer(i, size, true, _p, leave);
                }

                Read(ref i, 1, size, _r, _q, false, leave);
                WriteDestination(ref i, size, _r);
                return;
            }

            case X86BlockOp.Movzx or X86BlockOp.Movsx:
            {
                int src = X86Cpu.OpSize(ref i, 1);
                Read(ref i, 1, src, _r, _q, false, leave);
                if (op == X86BlockOp.Movsx)
                {
                    _il.Emit(OpCodes.Ldloc, _r);
                    _il.Emit(OpCodes.Ldc_I4, src);
                    _il.Emit(OpCodes.Call, s_signExtend);
                    _il.Emit(OpCodes.Stloc, _r);
                }

                StoreRegister(i.Op0Register, _r);
                return;
            }

            case X86BlockOp.Lea:
                EffectiveAddress(ref i);
                _il.Emit(OpCodes.Stloc, _r);
                StoreRegister(i.Op0Register, _r);
                return;
            case X86BlockOp.Binary:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                int code = BinaryCode(i.Mnemonic);
                Read(ref i, 0, size, _a, _p, code < 7, leave);
                Read(ref i, 1, size, _b, _q, false, leave);
                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, code);
                _il.Emit(OpCodes.Ldc_I4, size);
                Need(need);
                _il.Emit(OpCodes.Call, s_binary);
                _il.Emit(OpCodes.Stloc, _r);
                if (code < 7)
                {
                    WriteDestination(ref i, size, _r);
                }

                return;
            }

            case X86BlockOp.IncDec or X86BlockOp.Neg or X86BlockOp.Not or X86BlockOp.Shift:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                Read(ref i, 0, size, _a, _p, true, leave);
                if (op == X86BlockOp.Not)
                {
                    _il.Emit(OpCodes.Ldloc, _a);
                    _il.Emit(OpCodes.Not);
                }
                else
                {
                    _il.Emit(OpCodes.Ldloca, _flags);
                    _il.Emit(OpCodes.Ldloc, _a);
                    switch (op)
                    {
                        case X86BlockOp.IncDec:
                            _il.Emit(i.Mnemonic == Mnemonic.Dec ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                            _il.Emit(OpCodes.Ldc_I4, size);
                            Need(need);
                            _il.Emit(OpCodes.Call, s_incDec);
                            break;
                        case X86BlockOp.Neg:
                            _il.Emit(OpCodes.Ldc_I4, size);
                            Need(need);
                            _il.Emit(OpCodes.Call, s_neg);
                            break;
                        default:
                            _il.Emit(OpCodes.Ldc_I4, i.Mnemonic switch { Mnemonic.Shr => 1, Mnemonic.Sar => 2, _ => 0 });
                            _il.Emit(OpCodes.Ldc_I4, ShiftCount(ref i, size));
                            _il.Emit(OpCodes.Ldc_I4, size);
                            Need(need);
                            _il.Emit(OpCodes.Call, s_shift);
                            break;
                    }
                }

                _il.Emit(OpCodes.Stloc, _r);
                WriteDestination(ref i, size, _r);
                return;
            }

            case X86BlockOp.DoubleShift:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                Read(ref i, 0, size, _a, _p, true, leave);
                Read(ref i, 1, size, _b, _q, false, leave);
                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, (int)(i.GetImmediate(2) & (size == 8 ? 0x3FUL : 0x1FUL)));
                _il.Emit(OpCodes.Ldc_I4, size);
                _il.Emit(i.Mnemonic == Mnemonic.Shld ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);
                Need(need);
                _il.Emit(OpCodes.Call, s_doubleShift);
                _il.Emit(OpCodes.Stloc, _r);
                WriteDestination(ref i, size, _r);
                return;
            }

            case X86BlockOp.Mul:
            {
                int size = X86Cpu.OpSize(ref i, 0);
                Read(ref i, 0, size, _b, _q, false, leave);
                _il.Emit(OpCodes.Ldloca, Gpr(Cpu.Gpr.Rax));
                _il.Emit(OpCodes.Ldloca, Gpr(Cpu.Gpr.Rdx));
                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, size);
                Need(need);
                _il.Emit(OpCodes.Call, s_mul);
                return;
            }

            case X86BlockOp.Imul:
            {
                // IMUL r, r/m: x = r, y = r/m; IMUL r, r/m, imm: x = r/m, y = imm.
                int size = X86Cpu.OpSize(ref i, 0);
                if (i.OpCount == 3)
                {
                    Read(ref i, 1, size, _a, _q, false, leave);
                    _il.Emit(OpCodes.Ldc_I8, (long)i.GetImmediate(2));
                    _il.Emit(OpCodes.Stloc, _b);
                }
                else
                {
                    LoadRegister(i.Op0Register);
                    _il.Emit(OpCodes.Stloc, _a);
                    Read(ref i, 1, size, _b, _q, false, leave);
                }

                _il.Emit(OpCodes.Ldloca, _flags);
                _il.Emit(OpCodes.Ldloc, _a);
                _il.Emit(OpCodes.Ldloc, _b);
                _il.Emit(OpCodes.Ldc_I4, size);
                Need(need);
                _il.Emit(OpCodes.Call, s_imul);
                _il.Emit(OpCodes.Stloc, _r);
                StoreRegister(i.Op0Register, _r);
                return;
            }

            case X86BlockOp.Setcc:
                if (i.Op0Kind == OpKind.Memory)
                {
                    MemoryPointer(i, 1, true, _p, leave);
                }

                Condition(i.ConditionCode);
                _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Stloc, _r);
                WriteDestination(ref i, 1, _r);
                return;
            case X86BlockOp.Push:
            {
                int size = -i.StackPointerIncrement;
                Read(ref i, 0, size, _r, _q, false, leave);
                PushValue(size, leave);
                return;
            }

            case X86BlockOp.Pop:
            {
                PopValue(i.StackPointerIncrement, leave, canonical: false);
                StoreRegister(i.Op0Register, _r);
                return;
            }

            default:
                throw new InvalidOperationException($"x86 block: {op} is not a plain instruction");
        }
    }

    /// <summary>CALL rel: pushes the return address (<paramref name="next"/>); the caller then leaves for the target (so
    /// does a push into the block's own code: <see cref="Begin"/> was given the target).</summary>
    public void Call(ref Instruction i, ulong next, Label leave)
    {
        _il.Emit(OpCodes.Ldc_I8, (long)next);
        _il.Emit(OpCodes.Stloc, _r);
        PushValue(i.Op0Kind == OpKind.NearBranch64 ? 8 : 4, leave);
    }

    /// <summary>RET: pops the target (a non-canonical one in 64-bit mode leaves for the interpreter's #GP); <see cref="Return"/> goes there.</summary>
    public void Ret(ref Instruction i, Label leave) =>
        PopValue(i.Code switch { Code.Retnw => 2, Code.Retnd => 4, _ => 8 }, leave, canonical: _bitness == 64);

    /// <summary>
    /// After <see cref="Ret"/> (counted in <see cref="Pending"/>): to the label of the place after one of the
    /// block's calls when the popped address is that place, else out of the block to it.
    /// </summary>
    public void Return(IEnumerable<(int Offset, ulong Rip)> places, int from, Dictionary<int, Label> labels)
    {
        foreach (var (offset, rip) in places)
        {
            // if (r == rip) goto place;
            Label other = _il.DefineLabel();
            _il.Emit(OpCodes.Ldloc, _r);
            _il.Emit(OpCodes.Ldc_I8, (long)rip);
            _il.Emit(OpCodes.Bne_Un, other);
            Jump(offset, rip, from, labels);
            _il.MarkLabel(other);
        }

        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldloc, _r);
        _il.Emit(OpCodes.Call, s_setRip);
        ExitToRip();
    }

    // b = (rsp - size) & stack mask; p = write pointer(b) or leave; rsp = b; *p = r
    private void PushValue(int size, Label leave)
    {
        LoadGpr(Cpu.Gpr.Rsp);
        _il.Emit(OpCodes.Ldc_I8, (long)size);
        _il.Emit(OpCodes.Sub);
        Mask(StackMask);
        _il.Emit(OpCodes.Stloc, _b);
        Pointer(() => _il.Emit(OpCodes.Ldloc, _b), size, true, _p, leave);
        SetStackPointer(_b);
        Store(_p, size, _r); // last: a store into the block's code leaves from here
    }

    // b = rsp & stack mask; r = *read pointer(b) or leave; [if (!canonical(r)) leave;] rsp = (b + size) & stack mask
    private void PopValue(int size, Label leave, bool canonical)
    {
        LoadGpr(Cpu.Gpr.Rsp);
        Mask(StackMask);
        _il.Emit(OpCodes.Stloc, _b);
        Pointer(() => _il.Emit(OpCodes.Ldloc, _b), size, false, _p, leave);
        Load(_p, size);
        _il.Emit(OpCodes.Stloc, _r);
        if (canonical)
        {
            _il.Emit(OpCodes.Ldloc, _r);
            _il.Emit(OpCodes.Call, s_canonical);
            _il.Emit(OpCodes.Brfalse, leave);
        }

        _il.Emit(OpCodes.Ldloc, _b);
        _il.Emit(OpCodes.Ldc_I8, (long)size);
        _il.Emit(OpCodes.Add);
        Mask(StackMask);
        _il.Emit(OpCodes.Stloc, _b);
        SetStackPointer(_b);
    }

    private void Need(ulong need) => _il.Emit(OpCodes.Ldc_I8, (long)need);

    private static int BinaryCode(Mnemonic m) => m switch
    {
        Mnemonic.Add => 0,
        Mnemonic.Or => 1,
        Mnemonic.Adc => 2,
        Mnemonic.Sbb => 3,
        Mnemonic.And => 4,
        Mnemonic.Sub => 5,
        Mnemonic.Xor => 6,
        Mnemonic.Cmp => 7,
        _ => 8,
    };

    /// <summary>The masked count of a shift by a constant.</summary>
    internal static int ShiftCount(ref Instruction i, int size)
    {
        ulong n = i.OpCount < 2 ? 1 : i.GetImmediate(1);
        return (int)(n & (size == 8 ? 0x3FUL : 0x1FUL));
    }
}

using System.Reflection;
using System.Reflection.Emit;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>
/// The IL of a block's instructions. Operands are read into locals before anything is written, so an
/// instruction leaves (to the interpreter, through its leave label) with nothing of it committed; the
/// retired count is kept at compile time between the places where paths meet (<see cref="Pending"/>).
/// Arguments of the method: 0 the block state, 1 the CPU, 2 the instruction limit, 3 the index of the entry (<see cref="BlockShape.Entries"/>).
/// </summary>
internal sealed unsafe partial class BlockEmitter
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
    private static readonly MethodInfo s_deviceLoad = Method(nameof(X86Cpu.BlockDeviceLoad));
    private static readonly MethodInfo s_deviceStore = Method(nameof(X86Cpu.BlockDeviceStore));
    private static readonly MethodInfo s_port = Method(nameof(X86Cpu.BlockPort));
    private static readonly MethodInfo s_rdtsc = Method(nameof(X86Cpu.BlockRdtsc));
    private static readonly MethodInfo s_tscAux = Method(nameof(X86Cpu.BlockTscAux));
    private static readonly MethodInfo s_codeChanged = Method(nameof(X86Cpu.BlockCodeChanged));
    private static readonly MethodInfo s_setRip = Method(nameof(X86Cpu.BlockSetRip));
    private static readonly MethodInfo s_mayGoOn = Method(nameof(X86Cpu.BlockMayGoOn));
    private static readonly MethodInfo s_canonical = Method(nameof(X86Cpu.IsCanonical));
    private static readonly MethodInfo s_signExtend = typeof(Alu).GetMethod(nameof(Alu.SignExtend))!;
    private static readonly FieldInfo s_instructions = typeof(BlockState).GetField(nameof(BlockState.Instructions))!;

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
    private readonly List<(int Start, int End)> _runs;
    private ulong _next;
    private Label? _writtenHere;

    private readonly LocalBuilder?[] _gprs = new LocalBuilder?[16];
    private readonly LocalBuilder _flags;
    private readonly LocalBuilder _result;
    private readonly Label _epilogue;

    /// <summary>An emitter for a block of <paramref name="count"/> instructions compiled from bytes
    /// [<paramref name="first"/>, <paramref name="end"/>) of <paramref name="page"/>, which guest memory holds at <paramref name="pageHost"/>;
    /// it keeps the registers in <paramref name="usedGprs"/> (a bit per number) in locals; <paramref name="runs"/> are
    /// the page offsets its instructions cover, merged where they touch (what the entry compares).</summary>
    public BlockEmitter(ILGenerator il, int bitness, int count, nint pageHost, byte[] page, int first, int end, int usedGprs, List<(int Start, int End)> runs)
    {
        _runs = runs;
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
        _result = il.DeclareLocal(typeof(int));
        _epilogue = il.DefineLabel();
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

    /// <summary>if (the bytes of the block's instructions in guest memory differ from the ones compiled) goto
    /// <paramref name="stale"/>; eight bytes per compare, inline (every entry runs it). Only the instructions' bytes:
    /// the gaps a jump inside the page skips are not the block's.</summary>
    public void EmitStaleCheck(Label stale)
    {
        nint pageHost = _codeHost - _first;
        byte[] page = _page;
        foreach (var (start, end) in _runs)
        {
            for (int at = start; at < end;)
            {
                int left = end - at;
                int size = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;

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
    /// that leaves before it (emitted at the end by <see cref="EmitLeavesAndEpilogue"/>).
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

    /// <summary>After a handler that may have written memory: if the block's code changed, leave after the instruction
    /// (<c>if (BlockCodeChanged(state)) goto written;</c>).</summary>
    public void CheckCodeUnchanged()
    {
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Call, s_codeChanged);
        _il.Emit(OpCodes.Brtrue, Written());
    }

    /// <summary>
    /// The leaves (cpu.Rip = rip; result = ((retired + pending) &lt;&lt; 1) | 1), the exits after a store into the
    /// block's code (cpu.Rip = next; result = (retired + pending) &lt;&lt; 1), and the one epilogue every way out
    /// of the block but the stale check goes through: the register locals written back, return result.
    /// </summary>
    public void EmitLeavesAndEpilogue()
    {
        foreach (var (label, next, pending) in _written)
        {
            _il.MarkLabel(label);
            SetRip(next);
            ReturnWith(pending, leave: false);
        }

        foreach (var (label, rip, pending) in _leaves)
        {
            _il.MarkLabel(label);
            SetRip(rip);
            ReturnWith(pending, leave: true);
        }

        _il.MarkLabel(_epilogue);
        StoreState();
        _il.Emit(OpCodes.Ldloc, _result);
        _il.Emit(OpCodes.Ret);
    }

    // result = ((retired + pending) << 1) [| 1]; goto epilogue;
    private void ReturnWith(int pending, bool leave)
    {
        LoadRetired(pending);
        _il.Emit(OpCodes.Ldc_I4_1);
        _il.Emit(OpCodes.Shl);
        if (leave)
        {
            _il.Emit(OpCodes.Ldc_I4_1);
            _il.Emit(OpCodes.Or);
        }

        _il.Emit(OpCodes.Stloc, _result);
        _il.Emit(OpCodes.Br, _epilogue);
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
    public void ExitToRip() => ReturnWith(Pending, leave: false);

    // cpu.Rip = rip; return ((retired + Pending) << 1) | 1;   (the interpreter runs the instruction at rip, with no look-up first)
    public void LeaveTo(ulong rip)
    {
        SetRip(rip);
        ReturnWith(Pending, leave: true);
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
        CallHandler(s_execute, index);
        _il.Emit(OpCodes.Brfalse, leave);
        LoadState();
    }

    /// <summary>
    /// A MOV to or from memory whose operand missed the TLB's RAM entries, to a device page straight away
    /// (X86Cpu.BlockDevice.cs), nothing written back: <c>r = BlockDeviceLoad(cpu, ref state.Instructions[index],
    /// linear, size, out value)</c> (a store: <c>BlockDeviceStore(..., value)</c>); <c>if (r == 0 || r == NoDevicePage)
    /// goto leave;</c> (the interpreter fills the TLB, or the run takes the exit) a load writes its register;
    /// <c>if (r == 2) goto written;</c> then on after the instruction.
    /// </summary>
    public void DeviceMov(ref Instruction i, int index, bool store, Label leave)
    {
        int size = X86Cpu.OpSize(ref i, 0);
        if (store)
        {
            Read(ref i, 1, size, _r, _q, false, leave); // a register or an immediate
        }

        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldfld, s_instructions);
        _il.Emit(OpCodes.Ldc_I4, index);
        _il.Emit(OpCodes.Ldelema, typeof(Instruction));
        LinearAddress(ref i);
        _il.Emit(OpCodes.Ldc_I4, size);
        _il.Emit(store ? OpCodes.Ldloc : OpCodes.Ldloca, _r);
        _il.Emit(OpCodes.Call, store ? s_deviceStore : s_deviceLoad);
        _il.Emit(OpCodes.Stloc, _result);
        _il.Emit(OpCodes.Ldloc, _result);
        _il.Emit(OpCodes.Ldc_I4, X86Cpu.NoDevicePage);
        _il.Emit(OpCodes.Beq, leave);
        _il.Emit(OpCodes.Ldloc, _result);
        _il.Emit(OpCodes.Brfalse, leave);
        if (!store)
        {
            StoreRegister(i.Op0Register, _r);
        }

        _il.Emit(OpCodes.Ldloc, _result);
        _il.Emit(OpCodes.Ldc_I4_2);
        _il.Emit(OpCodes.Beq, Written());
    }

    /// <summary>
    /// IN or OUT (X86Cpu.BlockDevice.cs), nothing written back: <c>r = BlockPort(cpu, ref state.Instructions[index],
    /// port, size, write, ref value)</c> (OUT: the value from AL, AX or EAX); <c>if (r == 0) goto leave;</c> IN writes its register;
    /// <c>if (r == 2) goto written</c>.
    /// </summary>
    public void Port(ref Instruction i, int index, Label leave)
    {
        bool input = i.Mnemonic == Mnemonic.In;
        OpKind portKind = input ? i.Op1Kind : i.Op0Kind;
        Register data = input ? i.Op0Register : i.Op1Register;
        if (!input)
        {
            LoadRegister(data);
            _il.Emit(OpCodes.Stloc, _r);
        }

        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldfld, s_instructions);
        _il.Emit(OpCodes.Ldc_I4, index);
        _il.Emit(OpCodes.Ldelema, typeof(Instruction));
        if (portKind == OpKind.Register)
        {
            LoadRegister(Register.DX);
            _il.Emit(OpCodes.Conv_U2);
        }
        else
        {
            _il.Emit(OpCodes.Ldc_I4, (int)i.Immediate8);
        }

        _il.Emit(OpCodes.Ldc_I4, X86Cpu.RegSize(data));
        _il.Emit(input ? OpCodes.Ldc_I4_0 : OpCodes.Ldc_I4_1);
        _il.Emit(OpCodes.Ldloca, _r);
        _il.Emit(OpCodes.Call, s_port);
        _il.Emit(OpCodes.Stloc, _result);
        _il.Emit(OpCodes.Ldloc, _result);
        _il.Emit(OpCodes.Brfalse, leave);
        if (input)
        {
            StoreRegister(data, _r);
        }

        _il.Emit(OpCodes.Ldloc, _result);
        _il.Emit(OpCodes.Ldc_I4_2);
        _il.Emit(OpCodes.Beq, Written());
    }

    // handler(cpu, ref state.Instructions[index])
    private void CallHandler(MethodInfo handler, int index)
    {
        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldfld, s_instructions);
        _il.Emit(OpCodes.Ldc_I4, index);
        _il.Emit(OpCodes.Ldelema, typeof(Instruction));
        _il.Emit(OpCodes.Call, handler);
    }
}

using System.Reflection;
using System.Reflection.Emit;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation;

/// <summary>
/// Compiles the hot code around a branch target into one host method. The method calls the same
/// instruction handlers the interpreter does (<see cref="HandlerTable"/>), each with its instruction
/// word and op as constants, so the .NET JIT folds the field extraction of the handlers it inlines;
/// there is no second implementation of any instruction to keep in step.
/// <para>
/// A block is the code reachable from its entry inside one 4 KiB page (one execute-TLB entry, checked
/// once at entry) through straight-line code and direct branches (B, B.cond, CBZ, CBNZ, TBZ, TBNZ),
/// so a loop inside a page runs as a host loop. Any other branch, exception-generating or system
/// instruction (anything that can change PSTATE, translation or the interrupt state) leaves the block
/// after it executes. Before each instruction the code stores PC (any instruction can read it or take an
/// exception, if only UNDEFINED), so an exception or a trap sees exactly the interpreter's state. At every backward branch the code
/// checks the vCPU's request word, the instruction budget and the broadcast TLB invalidation epoch, as
/// the interpreter does before every instruction.
/// </para>
/// </summary>
internal static class BlockCompiler
{
    /// <summary>The most instructions in one block; a run of the block retires at most this many between two budget checks.</summary>
    public const int MaxInstructions = 16;

    /// <summary>Returned by a block whose words are no longer in guest memory.</summary>
    public const int Stale = -1;

    // The methods are static with the block's state as their first parameter, and their delegates are
    // closed over it: a call through a closed delegate needs no argument-shuffling thunk.
    private static readonly Type[] s_parameters =
        [typeof(BlockState), typeof(Arm64Cpu), typeof(ulong), typeof(int), typeof(int).MakeByRefType(), typeof(long)];

    /// <summary>The deepest chain of optimized blocks one run of a block may call (each link one host frame).</summary>
    public const int MaxChainDepth = 8;

    /// <summary>Returned by <see cref="Arm64Cpu.RunChained"/> when the chain is as deep as it may go: nothing ran.</summary>
    public const int NotChained = -2;

    private static readonly MethodInfo s_state = typeof(Arm64Cpu).GetProperty(nameof(Arm64Cpu.State))!.GetMethod!;

    private static readonly FieldInfo s_pc = typeof(CpuState).GetField(nameof(CpuState.Pc))!;

    /// <summary>
    /// Whether <paramref name="op"/> leaves the straight-line flow: branches, exception generation,
    /// WFI/WFE/SEV, ISB, system register and system instructions, and unallocated encodings. NOP, the
    /// other hints, DMB, DSB and CLREX change nothing the run loop looks at and stay in the flow.
    /// </summary>
    public static bool EndsRun(A64Op op) =>
        op is A64Op.Undefined or (>= A64Op.BCond and <= A64Op.Tbnz)
        && op is not (A64Op.Nop or A64Op.Hint or A64Op.Yield or A64Op.Dmb or A64Op.Dsb or A64Op.Clrex);

    /// <summary>Whether <paramref name="op"/> is a PC-relative branch whose target is in the word.</summary>
    public static bool IsDirectBranch(A64Op op) =>
        op is A64Op.B or A64Op.BCond or A64Op.Cbz or A64Op.Cbnz or A64Op.Tbz or A64Op.Tbnz;

    /// <summary>The target of direct branch <paramref name="word"/>, in instructions from the branch.</summary>
    public static int BranchOffset(uint word, A64Op op) => op switch
    {
        A64Op.B => (int)(word << 6) >> 6,
        A64Op.Tbz or A64Op.Tbnz => (int)(word << 13) >> 18,
        _ => (int)(word << 8) >> 13,
    };

    /// <summary>
    /// The instructions of the block entered at <paramref name="host"/> (guest address <paramref name="pc"/>),
    /// as indices relative to the entry in ascending order, at most <see cref="MaxInstructions"/>.
    /// </summary>
    public static unsafe int[] Discover(uint* host, ulong pc)
    {
        var (first, last) = PageIndices(pc);
        var found = new SortedSet<int>();
        var work = new Stack<int>();
        work.Push(0);
        while (work.Count > 0 && found.Count < MaxInstructions)
        {
            int i = work.Pop();
            while (i >= first && i <= last && found.Count < MaxInstructions && found.Add(i))
            {
                uint word = host[i];
                A64Op op = A64Decoder.Decode(word);
                if (IsDirectBranch(op))
                {
                    work.Push(i + BranchOffset(word, op));
                    if (op == A64Op.B)
                    {
                        break;
                    }
                }
                else if (EndsRun(op))
                {
                    break;
                }

                i++;
            }
        }

        return [.. found];
    }

    /// <summary>
    /// if (host[i] != words[i]) goto stale; for every instruction, two adjacent ones compared as one
    /// 8-byte word, at offsets from one base address (so each pair is a compare with a memory operand).
    /// </summary>
    private static unsafe void EmitStaleCheck(ILGenerator il, uint* host, int[] indices, uint[] words, Label stale)
    {
        LocalBuilder block = il.DeclareLocal(typeof(byte*));
        il.Emit(OpCodes.Ldc_I8, (long)(host + indices[0]));
        il.Emit(OpCodes.Conv_U);
        il.Emit(OpCodes.Stloc, block);
        for (int k = 0; k < indices.Length;)
        {
            il.Emit(OpCodes.Ldloc, block);
            il.Emit(OpCodes.Ldc_I4, 4 * (indices[k] - indices[0]));
            il.Emit(OpCodes.Add);
            if (k + 1 < indices.Length && indices[k + 1] == indices[k] + 1)
            {
                il.Emit(OpCodes.Unaligned, (byte)4);
                il.Emit(OpCodes.Ldind_I8);
                il.Emit(OpCodes.Ldc_I8, (long)(words[k] | ((ulong)words[k + 1] << 32)));
                k += 2;
            }
            else
            {
                il.Emit(OpCodes.Ldind_U4);
                il.Emit(OpCodes.Ldc_I4, unchecked((int)words[k]));
                k++;
            }

            il.Emit(OpCodes.Bne_Un, stale);
        }
    }

    /// <summary>The first and last instruction of the 4 KiB page holding <paramref name="pc"/>, as indices relative to it.</summary>
    private static (int First, int Last) PageIndices(ulong pc)
    {
        int first = -(int)((pc & 0xFFF) >> 2);
        return (first, first + 1023);
    }

    /// <summary>
    /// The places of a block where the run loop may enter it, in ascending order: the entry it was
    /// discovered from (index 0), the targets of its direct branches, and the instructions after its
    /// calls, exception-generating and system instructions (where control comes back to, or where the
    /// run loop resumes after looking at what they changed).
    /// </summary>
    public static int[] Entries(int[] indices, uint[] words)
    {
        var set = new HashSet<int>(indices);
        var entries = new SortedSet<int> { 0 };
        for (int k = 0; k < indices.Length; k++)
        {
            A64Op op = A64Decoder.Decode(words[k]);
            int candidate = IsDirectBranch(op) ? indices[k] + BranchOffset(words[k], op)
                : EndsRun(op) ? indices[k] + 1
                : int.MinValue;
            if (set.Contains(candidate))
            {
                entries.Add(candidate);
            }
        }

        return [.. entries];
    }

    /// <summary>
    /// Emits the host method for the instructions <paramref name="indices"/> (from
    /// <see cref="Discover"/>) with words <paramref name="words"/>, read at <paramref name="host"/>. The
    /// method is entered at <paramref name="entries"/>[entry]; it first checks that guest memory still
    /// holds those words and returns <see cref="Stale"/> if not; otherwise it returns (instructions
    /// retired &lt;&lt; 2) | the <see cref="Flow"/> it left with. <paramref name="inline"/> chooses the
    /// optimized form (each handler inlined with its word as a constant: fast code, milliseconds of JIT)
    /// or the quick one (each instruction a call of its op's <see cref="OpDispatch"/> method: no fetch,
    /// decode or dispatch, and a fraction of a millisecond of JIT).
    /// </summary>
    public static unsafe BlockCode Compile(uint* host, int[] indices, uint[] words, int[] entries, ulong pc, bool inline = true)
    {
        var (first, last) = PageIndices(pc);
        int links = 0; // the chained exits
        var method = new DynamicMethod(
            $"a64_block_{pc:x}", typeof(int), s_parameters, typeof(Arm64Cpu), skipVisibility: false);
        ILGenerator il = method.GetILGenerator(256 + (indices.Length * 64));
        LocalBuilder flow = il.DeclareLocal(typeof(int));
        LocalBuilder retired = il.DeclareLocal(typeof(int));

        // Labels only where paths meet (the entries, which include every branch target in the block):
        // between two of them the retired count and the last-was-load-exclusive note are known at
        // compile time, and the code keeps them in step only where it must.
        var labels = entries.ToDictionary(e => e, _ => il.DefineLabel());
        var inBlock = new HashSet<int>(indices);

        // if (cpu == null) return 0;   (the translator's dry call, which makes the JIT compile the method)
        Label run = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Brtrue, run);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(run);

        Label stale = il.DefineLabel();
        EmitStaleCheck(il, host, indices, words, stale);

        var emitter = new Emitter(il, flow, retired, host);
        emitter.ClearLoadExclusive();

        // The code is laid out in address order; the entries may be anywhere in it.
        il.Emit(OpCodes.Ldarg_3);
        il.Emit(OpCodes.Switch, Array.ConvertAll(entries, e => labels[e]));
        il.Emit(OpCodes.Br, labels[0]);
        A64Op previous = A64Op.Undefined;
        for (int k = 0; k < indices.Length; k++)
        {
            int i = indices[k];
            uint word = words[k];
            A64Op op = A64Decoder.Decode(word);
            if (labels.TryGetValue(i, out Label here))
            {
                emitter.SyncRetired();
                il.MarkLabel(here);
            }

            // Only a load-exclusive sets the note, and every instruction clears it first: so only the
            // instruction after one in straight line needs the clear (an entry was cleared above, and
            // a branch to a label cleared it before the branch).
            if (inBlock.Contains(i - 1) && previous is >= A64Op.Stxr and <= A64Op.Ldaxp)
            {
                emitter.ClearLoadExclusive();
            }

            previous = op;
            emitter.SetPc(i);

            // flow = cpu.<handler>(word[, op]); if (flow > Flow.Jump) return (retired << 2) | flow;
            if (inline)
            {
                HandlerTable.EmitExecute(il, 1, g => g.Emit(OpCodes.Ldc_I4, unchecked((int)word)), op, clearLoadExclusive: false);
            }
            else
            {
                // The op's own method (OpDispatch), called: the JIT does not inline one dynamic method into another.
                il.Emit(OpCodes.Ldnull);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Ldc_I4, unchecked((int)word));
                il.Emit(OpCodes.Call, OpDispatch.Method(op));
            }

            il.Emit(OpCodes.Stloc, flow);
            emitter.ExitUnlessNextOrJump();
            emitter.Pending++;

            bool nextInBlock = inBlock.Contains(i + 1), endsRun = false;
            if (IsDirectBranch(op))
            {
                int target = i + BranchOffset(word, op);
                Label notTaken = il.DefineLabel();
                il.Emit(OpCodes.Ldloc, flow);
                il.Emit(OpCodes.Brfalse, notTaken);
                if (labels.TryGetValue(target, out Label targetLabel))
                {
                    int pending = emitter.Pending;
                    emitter.SyncRetired();
                    if (target <= i)
                    {
                        emitter.CheckBackwardBranch();
                    }

                    il.Emit(OpCodes.Br, targetLabel);
                    emitter.Pending = pending; // the not-taken path has not added it
                }
                else if (inline && target >= first && target <= last)
                {
                    emitter.ExitChained(Flow.Jump, links++, target);
                }
                else
                {
                    emitter.Exit(Flow.Jump);
                }

                il.MarkLabel(notTaken);
            }
            else if (EndsRun(op))
            {
                endsRun = true;
                // A taken indirect branch or an exception return set PC; anything else falls through
                // and leaves the block, where the run loop looks at what it changed.
                Label fallThrough = il.DefineLabel();
                il.Emit(OpCodes.Ldloc, flow);
                il.Emit(OpCodes.Brfalse, fallThrough);
                emitter.Exit(Flow.Jump);
                il.MarkLabel(fallThrough);
                nextInBlock = false;
            }

            if (!nextInBlock)
            {
                emitter.SetPc(i + 1);
                if (inline && !endsRun && i + 1 <= last)
                {
                    // Cut off by the size limit, or joining code discovered from elsewhere: straight on
                    // into the next optimized block. (After a system instruction the run loop looks first.)
                    emitter.ExitChained(Flow.Next, links++, i + 1);
                }
                else
                {
                    emitter.Exit(Flow.Next);
                }

                emitter.Pending = 0; // what follows is reached only through its label
            }
        }

        il.MarkLabel(stale);
        il.Emit(OpCodes.Ldc_I4, Stale);
        il.Emit(OpCodes.Ret);
        return (BlockCode)method.CreateDelegate(typeof(BlockCode), new BlockState(links));
    }

    /// <summary>The IL sequences the instructions of a block share.</summary>
    private sealed unsafe class Emitter(ILGenerator il, LocalBuilder flow, LocalBuilder retired, uint* host)
    {
        private static readonly FieldInfo s_links = typeof(BlockState).GetField(nameof(BlockState.Links))!;
        private static readonly MethodInfo s_findChainTarget = typeof(Arm64Cpu).GetMethod(nameof(Arm64Cpu.FindChainTarget), BindingFlags.Instance | BindingFlags.NonPublic)!;
        private static readonly MethodInfo s_runChained = typeof(Arm64Cpu).GetMethod(nameof(Arm64Cpu.RunChained), BindingFlags.Instance | BindingFlags.NonPublic)!;
        private LocalBuilder? _next;
        private LocalBuilder? _result;

        /// <summary>Instructions retired since <c>retired</c> was last brought up to date.</summary>
        public int Pending { get; set; }

        // retired += Pending
        public void SyncRetired()
        {
            if (Pending != 0)
            {
                il.Emit(OpCodes.Ldloc, retired);
                il.Emit(OpCodes.Ldc_I4, Pending);
                il.Emit(OpCodes.Add);
                il.Emit(OpCodes.Stloc, retired);
                Pending = 0;
            }
        }

        // cpu._lastWasLoadExclusive = false
        public void ClearLoadExclusive()
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Stfld, Arm64Cpu.LastWasLoadExclusiveField);
        }

        // (retired + Pending) << 2
        private void LoadRetiredShifted()
        {
            LoadRetired();
            il.Emit(OpCodes.Ldc_I4_2);
            il.Emit(OpCodes.Shl);
        }

        private static readonly MethodInfo s_sharedEpoch = typeof(CpuShared).GetProperty(nameof(CpuShared.TlbEpoch))!.GetMethod!;

        // cpu.State.Pc = pc + 4 * index
        public void SetPc(int index)
        {
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, s_state);
            il.Emit(OpCodes.Ldarg_2);
            if (index != 0)
            {
                il.Emit(OpCodes.Ldc_I8, 4L * index);
                il.Emit(OpCodes.Add);
            }

            il.Emit(OpCodes.Stfld, s_pc);
        }

        // if (flow > Flow.Jump) return ((retired + Pending) << 2) | flow;   (an exception or a trap: not retired)
        public void ExitUnlessNextOrJump()
        {
            Label go = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, flow);
            il.Emit(OpCodes.Ldc_I4, (int)Flow.Jump);
            il.Emit(OpCodes.Ble_Un, go);
            LoadRetiredShifted();
            il.Emit(OpCodes.Ldloc, flow);
            il.Emit(OpCodes.Or);
            il.Emit(OpCodes.Ret);
            il.MarkLabel(go);
        }

        // return ((retired + Pending) << 2) | exit
        public void Exit(Flow exit)
        {
            LoadRetiredShifted();
            if (exit != Flow.Next)
            {
                il.Emit(OpCodes.Ldc_I4, (int)exit);
                il.Emit(OpCodes.Or);
            }

            il.Emit(OpCodes.Ret);
        }

        /// <summary>
        /// Leaves the block with <paramref name="exit"/> (PC already at instruction <paramref name="target"/>
        /// of the same page), going straight on into the optimized block there when there is one, through
        /// link <paramref name="link"/>, under the checks of a backward branch; else to the run loop.
        /// </summary>
        public void ExitChained(Flow exit, int link, int target)
        {
            _next ??= il.DeclareLocal(typeof(TranslatedBlock));
            _result ??= il.DeclareLocal(typeof(int));
            Label plain = il.DefineLabel(), have = il.DefineLabel(), ran = il.DefineLabel();

            LeaveUnlessItMayGoOn(plain);

            // next = state.Links[link] ?? (state.Links[link] = cpu.FindChainTarget(host + target)); if (next == null) goto plain;
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, s_links);
            il.Emit(OpCodes.Ldc_I4, link);
            il.Emit(OpCodes.Ldelem_Ref);
            il.Emit(OpCodes.Stloc, _next);
            il.Emit(OpCodes.Ldloc, _next);
            il.Emit(OpCodes.Brtrue, have);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldc_I8, (long)(host + target));
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Call, s_findChainTarget);
            il.Emit(OpCodes.Stloc, _next);
            il.Emit(OpCodes.Ldloc, _next);
            il.Emit(OpCodes.Brfalse, plain);
            StoreLink(link, _next);
            il.MarkLabel(have);

            // result = cpu.RunChained(next, pc + 4 * target, ref requests, limit - (retired + Pending));
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, _next);
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Ldc_I8, 4L * target);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ldarg_S, (byte)4);
            il.Emit(OpCodes.Ldarg_S, (byte)5);
            LoadRetired();
            il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Sub);
            il.Emit(OpCodes.Call, s_runChained);
            il.Emit(OpCodes.Stloc, _result);

            // if (result >= 0) return ((retired + Pending) << 2) + result;   (its count and the flow it left with)
            il.Emit(OpCodes.Ldloc, _result);
            il.Emit(OpCodes.Ldc_I4_0);
            il.Emit(OpCodes.Bge, ran);

            // Not run: too deep (keep the link), or its code changed (drop it); PC is still at the target.
            il.Emit(OpCodes.Ldloc, _result);
            il.Emit(OpCodes.Ldc_I4, NotChained);
            il.Emit(OpCodes.Beq, plain);
            StoreLink(link, null);
            il.Emit(OpCodes.Br, plain);

            il.MarkLabel(ran);
            LoadRetiredShifted();
            il.Emit(OpCodes.Ldloc, _result);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Ret);

            il.MarkLabel(plain);
            Exit(exit);
        }

        // state.Links[link] = value
        private void StoreLink(int link, LocalBuilder? value)
        {
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, s_links);
            il.Emit(OpCodes.Ldc_I4, link);
            if (value is null)
            {
                il.Emit(OpCodes.Ldnull);
            }
            else
            {
                il.Emit(OpCodes.Ldloc, value);
            }

            il.Emit(OpCodes.Stelem_Ref);
        }

        // retired + Pending
        private void LoadRetired()
        {
            il.Emit(OpCodes.Ldloc, retired);
            if (Pending != 0)
            {
                il.Emit(OpCodes.Ldc_I4, Pending);
                il.Emit(OpCodes.Add);
            }
        }

        // A taken backward branch (PC already at its target) goes round again only while it may go on.
        public void CheckBackwardBranch()
        {
            Label leave = il.DefineLabel();
            Label stay = il.DefineLabel();
            LeaveUnlessItMayGoOn(leave);
            il.Emit(OpCodes.Br, stay);
            il.MarkLabel(leave);
            Exit(Flow.Jump);
            il.MarkLabel(stay);
        }

        // Translated code goes on past a backward branch or into a chained block only while the request
        // word is clear, the budget lasts and no other PE broadcast a TLB invalidation, as the
        // interpreter checks before every instruction:
        // if (requests != 0 || retired + Pending >= limit || cpu._tlbEpoch != cpu._shared.TlbEpoch) goto leave;
        private void LeaveUnlessItMayGoOn(Label leave)
        {
            il.Emit(OpCodes.Ldarg_S, (byte)4);
            il.Emit(OpCodes.Volatile);
            il.Emit(OpCodes.Ldind_I4);
            il.Emit(OpCodes.Brtrue, leave);
            LoadRetired();
            il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Ldarg_S, (byte)5);
            il.Emit(OpCodes.Bge, leave);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, Arm64Cpu.TlbEpochField);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldfld, Arm64Cpu.SharedField);
            il.Emit(OpCodes.Call, s_sharedEpoch);
            il.Emit(OpCodes.Bne_Un, leave);
        }
    }
}

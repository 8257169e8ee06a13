using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Iced.Intel;
using SoftKvm.X86.Cpu.Instructions;
using Label = System.Reflection.Emit.Label;

namespace SoftKvm.X86.Cpu.Translation;

/// <summary>
/// Compiles the hot code at a branch target into one host method (the x86 counterpart of the arm64
/// translator). A block is the code reachable from its entry inside one 4 KiB page through straight
/// lines, direct jumps (Jcc both ways, JMP) and calls, so a loop inside a page runs as a host loop; a RET
/// goes on inside the block when it pops the address after one of the block's calls, and leaves it
/// otherwise. The common integer instructions (MOV, MOVZX/MOVSX, LEA, the ALU group, INC/DEC/NEG/NOT,
/// shifts by a constant, SHLD/SHRD, MUL/IMUL, PUSH/POP, SETcc, the branches, RDTSC, the fences) are compiled
/// to IL with their operands as constants; other plain integer instructions (PUSHA and POPA, CLI, STI among
/// them) call the interpreter's handler with their decoded form.
/// <para>
/// Semantics are the interpreter's: a block runs only where the run loop allows it (protected or long
/// mode with flat segments, no TF/RF, no debug breakpoints, no interrupt shadow, enough budget). Memory
/// is accessed through software-TLB hits only; a miss, a page crossing, a fault or an exit in a handler
/// leaves the block before the instruction with everything committed up to it, and the interpreter runs
/// that instruction (so every fault and exit is the interpreter's). Status flags are computed only where
/// a later instruction, a block exit or such a leave can see them. A backward branch goes round again
/// only while no exit is requested, no memory slot changed and the budget covers another pass.
/// </para>
/// </summary>
internal static class BlockCompiler
{
    /// <summary>The most instructions in one block.</summary>
    public const int MaxInstructions = 64;

    /// <summary>Returned by a block whose bytes are no longer in guest memory.</summary>
    public const int Stale = -1;

    private const ulong Status = Rflags.Status;

    /// <summary>One instruction of a block: where it is, what it is, and what the flag analysis found.</summary>
    internal sealed class Item
    {
        public int Offset;
        public Instruction Insn;
        public BlockOp Kind;
        public ulong Reads;
        public ulong Writes;
        public bool MayLeave;
        public ulong LiveIn;
        public ulong LiveOut;

        public int End => Offset + Insn.Length;
    }

    /// <summary>
    /// Decodes the block entered at <paramref name="entry"/> of <paramref name="page"/> (a copy of the 4 KiB
    /// page whose first byte is at RIP <paramref name="pageRip"/> and in guest memory at <paramref name="pageHost"/>),
    /// compiles it and returns its code and number of instructions; null when nothing there compiles.
    /// </summary>
    public static TranslatedBlock? Compile(byte[] page, nint pageHost, int entry, ulong pageRip, int bitness) =>
        Shape(page, entry, pageRip, bitness) is { } shape ? Compile(shape, page, pageHost, pageRip, bitness) : null;

    /// <summary>
    /// Which instructions the block entered at <paramref name="entry"/> holds, and the places it may be entered at
    /// (<see cref="BlockShape.Entries"/>); null when nothing there compiles. Cheap enough for the vCPU thread, which
    /// decides the shape when it asks for the block, so that the other places of the same loop wait for it instead of
    /// each compiling a copy of the loop (<see cref="X86Cpu"/>'s <c>Request</c>).
    /// </summary>
    public static BlockShape? Shape(byte[] page, int entry, ulong pageRip, int bitness)
    {
        var stops = new Dictionary<int, int>();
        var items = Discover(page, entry, pageRip, bitness, stops);
        if (items is null || items.Count == 0)
        {
            return null;
        }

        var loop = LoopThroughEntry(items, entry, pageRip, stops);
        items = loop ?? items;
        return new BlockShape(items, Entries(items, entry, pageRip, stops, loop is not null), stops);
    }

    /// <summary>Compiles a block of <paramref name="shape"/> (from <see cref="Shape"/> over the same page copy).</summary>
    public static TranslatedBlock Compile(BlockShape shape, byte[] page, nint pageHost, ulong pageRip, int bitness)
    {
        var items = shape.Items;
        Analyse(items, pageRip);
        int first = items[0].Offset, end = items[^1].End;
        var code = Emit(items, shape, pageRip, bitness, page, pageHost, first, end);
        return new TranslatedBlock(code, items.Count, shape.Entries.Select(o => pageRip + (ulong)o).ToArray());
    }

    /// <summary>
    /// The places a block may be entered at, the requested <paramref name="entry"/> first: where the run loop looks
    /// blocks up inside it. Those are the targets of its branches and the places its RETs come back to (a taken
    /// branch's target), and the places after its instructions that end a run at an exit and resume after it (IN
    /// and OUT, a MOV from or to memory in a loop, an instruction the interpreter runs, such as VMCALL): a loop is
    /// compiled once, whichever of its places gets hot first, and entered at each of them. (Only a loop's memory MOVs:
    /// a device's is where its VMM exits come back to; each entry is a label, which costs the JIT a little.)
    /// </summary>
    private static List<int> Entries(List<Item> items, int entry, ulong pageRip, Dictionary<int, int> stops, bool loop)
    {
        var offsets = new HashSet<int>(items.Select(x => x.Offset));
        var entries = new List<int> { entry };
        void Add(int at)
        {
            if (offsets.Contains(at) && !entries.Contains(at))
            {
                entries.Add(at);
            }
        }

        foreach (var it in items)
        {
            if (it.Kind is BlockOp.Jcc or BlockOp.Jmp or BlockOp.Call)
            {
                Add(PageOffset(it.Insn.NearBranchTarget, pageRip));
            }

            if (it.Kind == BlockOp.Call || it.Kind == BlockOp.Port || (loop && it.Kind == BlockOp.Mov && HasMemory(ref it.Insn)))
            {
                Add(it.End);
            }

            if (stops.TryGetValue(it.End, out int stopEnd))
            {
                Add(stopEnd);
            }
        }

        return entries;
    }

    /// <summary>The code reachable from <paramref name="entry"/> (see the class). <paramref name="stops"/> receives the
    /// instructions that end the block and after which the guest goes on at the next one (VMCALL, CPUID, a string IN:
    /// the interpreter runs them), by offset, with their end.</summary>
    private static List<Item>? Discover(byte[] page, int entry, ulong pageRip, int bitness, Dictionary<int, int> stops)
    {
        var found = new SortedDictionary<int, Item>();
        var work = new Stack<int>();
        var later = new Stack<int>(); // the code after loops: explored when nothing else is left
        work.Push(entry);
        while ((work.Count > 0 || later.Count > 0) && found.Count < MaxInstructions)
        {
            int offset = work.Count > 0 ? work.Pop() : later.Pop();
            while (offset >= 0 && offset < page.Length && found.Count < MaxInstructions && !found.ContainsKey(offset))
            {
                var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(page, offset, page.Length - offset));
                decoder.IP = pageRip + (ulong)offset;
                decoder.Decode(out Instruction insn);
                if (insn.IsInvalid)
                {
                    break; // undecodable, or crossing the page: the interpreter's
                }

                BlockOp kind = Classify(ref insn, bitness);
                if (kind == BlockOp.Stop)
                {
                    if (insn.FlowControl == Iced.Intel.FlowControl.Next || insn.Mnemonic is Mnemonic.Vmcall or Mnemonic.Vmmcall)
                    {
                        // (Iced calls VMCALL a call; the hypervisor completes it and the guest goes on after it.)
                        stops[offset] = offset + insn.Length;
                    }

                    break;
                }

                var item = new Item { Offset = offset, Insn = insn, Kind = kind };
                found.Add(offset, item);
                if (kind is BlockOp.Jcc or BlockOp.Jmp or BlockOp.Call)
                {
                    // A call into the page goes on at its target; the code after it is where a RET comes back to.
                    int target = PageOffset(insn.NearBranchTarget, pageRip);
                    if (kind == BlockOp.Jcc && target >= 0 && target <= offset)
                    {
                        // A loop's backward branch: the loop first (what a hot place is in, see LoopThroughEntry), the
                        // code after it last, so that a long way out of the loop does not use up the block's instructions.
                        later.Push(item.End);
                        offset = target;
                        continue;
                    }

                    if (target >= 0)
                    {
                        work.Push(target);
                    }

                    if (kind == BlockOp.Jmp)
                    {
                        break;
                    }
                }
                else if (kind is BlockOp.Ret or BlockOp.GenericLast)
                {
                    break;
                }

                offset = item.End;
            }
        }

        var items = found.Values.ToList();
        for (int k = 1; k < items.Count; k++)
        {
            if (items[k - 1].End > items[k].Offset)
            {
                return null; // overlapping decodings (a jump into an instruction): leave it to the interpreter
            }
        }

        return items;
    }

    /// <summary>
    /// When the entry is in a loop (a path from it leads back to it): the instructions of the innermost such loop only;
    /// the branches that leave it become exits of the block. Null when no path leads back (then the block is all the
    /// code <see cref="Discover"/> found). The innermost loop is that of the shortest backward branch (a JMP or Jcc to
    /// an address not above its own) whose range holds the entry and which is on a path back to it; a backward branch
    /// from inside that range (or past it) to before it is an outer loop's, which the loop leaves by. An instruction the
    /// block ends before and the guest goes on after (<paramref name="stops"/>: a VMCALL, say) leads to its next one here:
    /// a loop through it is a loop, entered again after it (the VMCALL row's block is its loop, not the code after it).
    /// The JIT's cost of a
    /// block grows with its code (docs/performance.md, x86 exit paths, session 9): a hot loop compiled alone is ready in
    /// a fraction of the time, and the code after it is another block, entered once per completion of the loop.
    /// </summary>
    private static List<Item>? LoopThroughEntry(List<Item> items, int entry, ulong pageRip, Dictionary<int, int> stops)
    {
        var byOffset = items.ToDictionary(x => x.Offset);
        int[] returns = ReturnPlaces(items);
        var edges = new List<(int From, int To, bool Backward)>();
        foreach (var it in items)
        {
            foreach (int s in Successors(it, pageRip, returns))
            {
                if (s >= 0 && byOffset.ContainsKey(s))
                {
                    edges.Add((it.Offset, s, it.Kind is BlockOp.Jcc or BlockOp.Jmp && s <= it.Offset));
                }
                else if (s >= 0 && stops.TryGetValue(s, out int after) && byOffset.ContainsKey(after))
                {
                    edges.Add((it.Offset, after, false)); // through the instruction the interpreter runs
                }
            }
        }

        var loop = Cycle(entry, edges, header: -1);
        if (!loop.Contains(entry))
        {
            return null;
        }

        // The shortest backward branch on the loop whose range holds the entry: its target heads the innermost loop.
        int header = -1, span = int.MaxValue;
        foreach (var (from, to, backward) in edges)
        {
            if (backward && loop.Contains(from) && to <= entry && entry <= from && from - to < span)
            {
                (header, span) = (to, from - to);
            }
        }

        if (header >= 0 && Cycle(entry, edges, header) is var inner && inner.Contains(entry))
        {
            loop = inner;
        }

        return loop.Count < items.Count ? items.Where(x => loop.Contains(x.Offset)).ToList() : null;
    }

    /// <summary>The instructions on a path from <paramref name="entry"/> back to it (reachable from it and reaching it), not
    /// counting the backward branches from <paramref name="header"/> or above to before it (an outer loop's; none when -1).</summary>
    private static HashSet<int> Cycle(int entry, List<(int From, int To, bool Backward)> edges, int header)
    {
        bool Outer((int From, int To, bool Backward) e) => header >= 0 && e.Backward && e.To < header && e.From >= header;
        HashSet<int> Reach(bool forward)
        {
            var seen = new HashSet<int>();
            var work = new Stack<int>();
            work.Push(entry);
            while (work.Count > 0)
            {
                int at = work.Pop();
                foreach (var e in edges)
                {
                    if ((forward ? e.From : e.To) == at && !Outer(e) && seen.Add(forward ? e.To : e.From))
                    {
                        work.Push(forward ? e.To : e.From);
                    }
                }
            }

            return seen;
        }

        var back = Reach(forward: false);
        back.IntersectWith(Reach(forward: true));
        return back;
    }

    /// <summary>Which instructions a block compiles, and how. <see cref="BlockOp.Stop"/> ends the block before it.</summary>
    internal static BlockOp Classify(ref Instruction i, int bitness)
    {
        if (i.Code.Encoding() != EncodingKind.Legacy || !OperandsPlain(ref i, bitness))
        {
            return BlockOp.Stop;
        }

        bool locked = i.HasLockPrefix;
        bool rep = i.HasRepPrefix || i.HasRepnePrefix;
        switch (i.Mnemonic)
        {
            case Mnemonic.Nop or Mnemonic.Pause or Mnemonic.Lfence or Mnemonic.Sfence:
                return BlockOp.Nop; // (the interpreter's handler of each: nothing, see SystemOps.Mfence)
            case Mnemonic.Mfence:
                return BlockOp.Generic; // a full barrier (SystemOps.Mfence)
            case Mnemonic.Rdtsc or Mnemonic.Rdtscp:
                return BlockOp.Rdtsc;
            case Mnemonic.Sti:
                return BlockOp.GenericLast;
            case Mnemonic.Mov:
                return BlockOp.Mov;
            case Mnemonic.Movzx:
                return BlockOp.Movzx;
            case Mnemonic.Movsx or Mnemonic.Movsxd:
                return BlockOp.Movsx;
            case Mnemonic.Lea:
                return BlockOp.Lea;
            case Mnemonic.Add or Mnemonic.Or or Mnemonic.Adc or Mnemonic.Sbb or Mnemonic.And or Mnemonic.Sub
                or Mnemonic.Xor or Mnemonic.Cmp or Mnemonic.Test:
                return locked ? BlockOp.Generic : BlockOp.Binary;
            case Mnemonic.Inc or Mnemonic.Dec:
                return locked ? BlockOp.Generic : BlockOp.IncDec;
            case Mnemonic.Neg:
                return locked ? BlockOp.Generic : BlockOp.Neg;
            case Mnemonic.Not:
                return locked ? BlockOp.Generic : BlockOp.Not;
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar:
                // A count in CL, or a count of 0 (no flags change), is the handler's.
                bool constant = i.OpCount < 2 || i.GetOpKind(1) != OpKind.Register;
                return constant && BlockEmitter.ShiftCount(ref i, X86Cpu.OpSize(ref i, 0)) > 0 ? BlockOp.Shift : BlockOp.Generic;
            case Mnemonic.Shld or Mnemonic.Shrd when i.GetOpKind(2) != OpKind.Register:
                return ShiftRotate.MaskedCount(i.GetImmediate(2), X86Cpu.OpSize(ref i, 0)) != 0 ? BlockOp.DoubleShift : BlockOp.Generic;
            case Mnemonic.Mul:
                return BlockOp.Mul;
            case Mnemonic.Imul when i.OpCount >= 2:
                return BlockOp.Imul;
            case Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Sete or Mnemonic.Setne
                or Mnemonic.Setbe or Mnemonic.Seta or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Setp or Mnemonic.Setnp
                or Mnemonic.Setl or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg:
                return BlockOp.Setcc;
            case Mnemonic.Push when i.Op0Kind is not OpKind.Memory:
                return BlockOp.Push;
            case Mnemonic.Pop when i.Op0Kind == OpKind.Register:
                return BlockOp.Pop;
            case Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne
                or Mnemonic.Jbe or Mnemonic.Ja or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jp or Mnemonic.Jnp
                or Mnemonic.Jl or Mnemonic.Jge or Mnemonic.Jle or Mnemonic.Jg:
                return NearTargetOk(ref i, bitness) ? BlockOp.Jcc : BlockOp.Stop;
            case Mnemonic.Jmp when IsNearBranch(i.Op0Kind):
                return NearTargetOk(ref i, bitness) ? BlockOp.Jmp : BlockOp.Stop;
            case Mnemonic.Call when IsNearBranch(i.Op0Kind):
                return NearTargetOk(ref i, bitness) ? BlockOp.Call : BlockOp.Stop;
            case Mnemonic.Ret when i.OpCount == 0:
                return BlockOp.Ret;
            case Mnemonic.In or Mnemonic.Out:
                return BlockOp.Port; // an in-kernel port is served in the block (X86Cpu.BlockDevice.cs)

            // Plain integer instructions the interpreter's handlers run inside the block.
            case Mnemonic.Mul or Mnemonic.Imul or Mnemonic.Div or Mnemonic.Idiv
                or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Shld or Mnemonic.Shrd
                or Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc or Mnemonic.Bsf or Mnemonic.Bsr
                or Mnemonic.Bswap or Mnemonic.Xchg or Mnemonic.Xadd or Mnemonic.Cmpxchg
                or Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cdqe or Mnemonic.Cwd or Mnemonic.Cdq or Mnemonic.Cqo
                or Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmove
                or Mnemonic.Cmovne or Mnemonic.Cmovbe or Mnemonic.Cmova or Mnemonic.Cmovs or Mnemonic.Cmovns
                or Mnemonic.Cmovp or Mnemonic.Cmovnp or Mnemonic.Cmovl or Mnemonic.Cmovge or Mnemonic.Cmovle
                or Mnemonic.Cmovg or Mnemonic.Clc or Mnemonic.Stc or Mnemonic.Cmc or Mnemonic.Lahf
                or Mnemonic.Push or Mnemonic.Pop or Mnemonic.Leave
                or Mnemonic.Pusha or Mnemonic.Pushad or Mnemonic.Popa or Mnemonic.Popad or Mnemonic.Pushf or Mnemonic.Pushfd or Mnemonic.Pushfq
                or Mnemonic.Cli
                or Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Movsq
                or Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Stosq
                or Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd or Mnemonic.Lodsq
                or Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq
                or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq:
                // A REP string instruction retires once per iteration in the interpreter's count: the interpreter's.
                return rep ? BlockOp.Stop : BlockOp.Generic;
            default:
                return BlockOp.Stop;
        }
    }

    private static bool IsNearBranch(OpKind k) => k is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;

    /// <summary>A direct target the block may jump to: 32 or 64-bit operand size, canonical in 64-bit mode (else the interpreter's #GP).</summary>
    private static bool NearTargetOk(ref Instruction i, int bitness) =>
        i.Op0Kind != OpKind.NearBranch16 && (bitness != 64 || X86Cpu.IsCanonical(i.NearBranchTarget));

    /// <summary>Registers are general-purpose, memory operands use the native address size and a segment the run
    /// loop checks to be flat (DS, ES, SS; FS and GS by their base in 64-bit mode).</summary>
    private static bool OperandsPlain(ref Instruction i, int bitness)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            switch (i.GetOpKind(op))
            {
                case OpKind.Register:
                    Register r = i.GetOpRegister(op);
                    if (!r.IsGPR())
                    {
                        return false;
                    }

                    break;
                case OpKind.Memory:
                    Register seg = i.MemorySegment;
                    bool segmentOk = seg is Register.DS or Register.ES or Register.SS
                        || (bitness == 64 && seg is Register.FS or Register.GS);
                    if (!segmentOk || AddressSize(ref i, bitness) < 4)
                    {
                        return false;
                    }

                    break;
                case OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegRSI or OpKind.MemorySegDI
                    or OpKind.MemorySegEDI or OpKind.MemorySegRDI or OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemoryESRDI:
                    // String operands: the handler does its own segmentation.
                    break;
                case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64
                    or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64
                    or OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64:
                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    /// <summary>The address size of the memory operand, as <see cref="X86Cpu.EffectiveAddress"/> computes it.</summary>
    internal static int AddressSize(ref Instruction i, int bitness)
    {
        Register b = i.MemoryBase, x = i.MemoryIndex;
        if (b is Register.RIP)
        {
            return 8;
        }

        if (b is Register.EIP)
        {
            return 4;
        }

        int asz = 0;
        if (b != Register.None)
        {
            asz = X86Cpu.RegSize(b);
        }

        if (x != Register.None)
        {
            asz = X86Cpu.RegSize(x);
        }

        if (asz == 0)
        {
            asz = i.MemoryDisplSize;
            if (asz < 2)
            {
                asz = bitness / 8;
            }
        }

        return asz;
    }

    /// <summary>The general-purpose registers the compiled instructions name (a bit per register number), which the block keeps in locals.</summary>
    private static int UsedRegisters(List<Item> items)
    {
        int used = 0;
        void Add(Register r)
        {
            if (r.IsGPR())
            {
                used |= 1 << X86Cpu.RegIndex(r);
            }
        }

        foreach (var it in items)
        {
            ref Instruction i = ref it.Insn;
            switch (it.Kind)
            {
                case BlockOp.Generic or BlockOp.GenericLast:
                    continue; // the handler works on the register file
                case BlockOp.Rdtsc:
                    used |= (1 << Gpr.Rax) | (1 << Gpr.Rdx) | (i.Mnemonic == Mnemonic.Rdtscp ? 1 << Gpr.Rcx : 0);
                    continue;
                case BlockOp.Mul:
                    used |= (1 << Gpr.Rax) | (1 << Gpr.Rdx);
                    break;
                case BlockOp.Push or BlockOp.Pop or BlockOp.Call or BlockOp.Ret:
                    used |= 1 << Gpr.Rsp;
                    break;
                case BlockOp.Port:
                    used |= 1 << Gpr.Rax; // (DX as the port is among the operands)
                    break;
            }

            for (int op = 0; op < i.OpCount; op++)
            {
                switch (i.GetOpKind(op))
                {
                    case OpKind.Register:
                        Add(i.GetOpRegister(op));
                        break;
                    case OpKind.Memory:
                        Add(i.MemoryBase);
                        Add(i.MemoryIndex);
                        break;
                }
            }
        }

        return used;
    }

    /// <summary>Whether a handler-run instruction may store to memory (a memory or string operand; others only read registers).</summary>
    private static bool MayWrite(ref Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            if (i.GetOpKind(op) is not (OpKind.Register or OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32
                or OpKind.Immediate64 or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64))
            {
                return true;
            }
        }

        return i.Mnemonic is Mnemonic.Push or Mnemonic.Pusha or Mnemonic.Pushad or Mnemonic.Pushf or Mnemonic.Pushfd or Mnemonic.Pushfq;
    }

    private static bool HasMemory(ref Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            if (i.GetOpKind(op) == OpKind.Memory)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Flag liveness: which status flags each instruction must write (a later instruction, a block exit or a
    /// leave to the interpreter can see them); an instruction that may leave needs all of them on entry.
    /// </summary>
    private static void Analyse(List<Item> items, ulong pageRip)
    {
        var byOffset = items.ToDictionary(x => x.Offset);
        int[] returns = ReturnPlaces(items);
        foreach (var it in items)
        {
            ref Instruction i = ref it.Insn;
            it.MayLeave = it.Kind is BlockOp.Generic or BlockOp.GenericLast or BlockOp.Rdtsc or BlockOp.Port or BlockOp.Push or BlockOp.Pop or BlockOp.Call or BlockOp.Ret || HasMemory(ref i);
            (it.Reads, it.Writes) = it.Kind switch
            {
                BlockOp.Binary => (i.Mnemonic is Mnemonic.Adc or Mnemonic.Sbb ? Rflags.CF : 0UL, Status),
                BlockOp.IncDec => (0UL, Status & ~Rflags.CF),
                BlockOp.Neg or BlockOp.Shift or BlockOp.DoubleShift or BlockOp.Mul or BlockOp.Imul => (0UL, Status),
                BlockOp.Jcc or BlockOp.Setcc or BlockOp.Generic or BlockOp.GenericLast => (Status, 0UL),
                _ => (0UL, 0UL),
            };
        }

        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int k = items.Count - 1; k >= 0; k--)
            {
                var it = items[k];
                ulong liveOut = 0;
                foreach (int s in Successors(it, pageRip, returns))
                {
                    liveOut |= s >= 0 && byOffset.TryGetValue(s, out var next) ? next.LiveIn : Status;
                }

                ulong liveIn = it.Reads | (liveOut & ~it.Writes) | (it.MayLeave ? Status : 0);
                if (liveIn != it.LiveIn || liveOut != it.LiveOut)
                {
                    it.LiveIn = liveIn;
                    it.LiveOut = liveOut;
                    changed = true;
                }
            }
        }
    }

    /// <summary>The places a RET of the block may come back to inside it: after each of its calls.</summary>
    private static int[] ReturnPlaces(List<Item> items) => items.Where(x => x.Kind == BlockOp.Call).Select(x => x.End).Distinct().ToArray();

    /// <summary>
    /// The offsets control may go to after <paramref name="it"/>; -1 for a place outside the page (a block
    /// exit). A RET may go to any of the block's <paramref name="returns"/>, or out.
    /// </summary>
    private static IEnumerable<int> Successors(Item it, ulong pageRip, int[] returns)
    {
        int Target() => PageOffset(it.Insn.NearBranchTarget, pageRip);
        switch (it.Kind)
        {
            case BlockOp.Jcc:
                yield return it.End;
                yield return Target();
                break;
            case BlockOp.Jmp or BlockOp.Call:
                yield return Target();
                break;
            case BlockOp.Ret:
                foreach (int r in returns)
                {
                    yield return r;
                }

                yield return -1;
                break;
            case BlockOp.GenericLast:
                yield return -1; // the block ends after it
                break;
            default:
                yield return it.End;
                break;
        }
    }

    /// <summary>The offset of <paramref name="target"/> in the page starting at <paramref name="pageRip"/>, or -1 outside it.</summary>
    private static int PageOffset(ulong target, ulong pageRip) => target - pageRip < 0x1000 ? (int)(target - pageRip) : -1;

    /// <summary>The page offsets the instructions cover, merged where one ends at the next one's start (items are sorted).</summary>
    private static List<(int Start, int End)> Runs(List<Item> items)
    {
        var runs = new List<(int Start, int End)>();
        foreach (var it in items)
        {
            if (runs.Count > 0 && runs[^1].End == it.Offset)
            {
                runs[^1] = (runs[^1].Start, it.End);
            }
            else
            {
                runs.Add((it.Offset, it.End));
            }
        }

        return runs;
    }

    private static readonly Type[] s_parameters = [typeof(BlockState), typeof(X86Cpu), typeof(long), typeof(int)];

    private static BlockCode Emit(List<Item> items, BlockShape shape, ulong pageRip, int bitness, byte[] page, nint pageHost, int first, int end)
    {
        int entry = shape.Entries[0];
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            // Compiled ahead of time (NativeAOT): the run loop does not ask for blocks (X86Cpu.Blocks), so this is a bug.
            throw new PlatformNotSupportedException("x86 translated blocks are .NET IL for the JIT, which this build does not have");
        }

        var method = new DynamicMethod($"x86_block_{pageRip + (ulong)entry:x}", typeof(int), s_parameters, typeof(X86Cpu), skipVisibility: false);
        ILGenerator il = method.GetILGenerator(256 + (items.Count * 128));
        var runs = Runs(items);
        var e = new BlockEmitter(il, bitness, items.Count, pageHost, page, first, end, UsedRegisters(items), runs);

        // if (cpu == null) return 0;   (the translator's dry call, which makes the JIT compile the method)
        Label run = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Brtrue, run);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(run);

        Label stale = il.DefineLabel();
        e.EmitStaleCheck(stale);

        // Labels where paths meet: the entry, every target of a branch or call inside the block, and the
        // places after its calls (where a RET whose popped address is one of them goes on inside the block).
        var offsets = new HashSet<int>(items.Select(x => x.Offset));
        var labels = shape.Entries.ToDictionary(x => x, _ => il.DefineLabel());
        int[] returns = ReturnPlaces(items).Where(offsets.Contains).ToArray();
        foreach (int t in items.Where(x => x.Kind is BlockOp.Jcc or BlockOp.Jmp or BlockOp.Call)
            .Select(x => PageOffset(x.Insn.NearBranchTarget, pageRip)).Concat(returns))
        {
            if (offsets.Contains(t) && !labels.ContainsKey(t))
            {
                labels[t] = il.DefineLabel();
            }
        }

        e.LoadState();
        if (shape.Entries.Count > 1)
        {
            // switch (entry index) { the entries' labels }; an index out of range is the first entry (it is never one)
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Switch, shape.Entries.Select(x => labels[x]).ToArray());
        }

        il.Emit(OpCodes.Br, labels[entry]);
        for (int k = 0; k < items.Count; k++)
        {
            var it = items[k];
            if (labels.TryGetValue(it.Offset, out Label here))
            {
                e.SyncRetired();
                il.MarkLabel(here);
            }

            ulong rip = pageRip + (ulong)it.Offset;
            ulong next = rip + (ulong)it.Insn.Length;
            ulong need = it.LiveOut & it.Writes;
            Label leave = e.Begin(rip, it.Kind == BlockOp.Call ? it.Insn.NearBranchTarget : next);
            switch (it.Kind)
            {
                case BlockOp.Jcc:
                {
                    int target = PageOffset(it.Insn.NearBranchTarget, pageRip);
                    Label notTaken = il.DefineLabel();
                    e.Condition(it.Insn.ConditionCode);
                    il.Emit(OpCodes.Brfalse, notTaken);
                    e.Pending++;
                    e.Jump(target, it.Insn.NearBranchTarget, it.Offset, labels);
                    e.Pending--;
                    il.MarkLabel(notTaken);
                    e.Pending++;
                    break;
                }

                case BlockOp.Jmp:
                    e.Pending++;
                    e.Jump(PageOffset(it.Insn.NearBranchTarget, pageRip), it.Insn.NearBranchTarget, it.Offset, labels);
                    e.Pending = 0; // what follows is reached only through its label
                    continue;
                case BlockOp.Call:
                    e.Call(ref it.Insn, next, leave);
                    e.Pending++;
                    e.Jump(PageOffset(it.Insn.NearBranchTarget, pageRip), it.Insn.NearBranchTarget, it.Offset, labels);
                    e.Pending = 0;
                    continue;
                case BlockOp.Ret:
                    e.Ret(ref it.Insn, leave);
                    e.Pending++;
                    e.Return(returns.Select(r => (r, pageRip + (ulong)r)), it.Offset, labels);
                    e.Pending = 0;
                    continue;
                case BlockOp.Port:
                    e.Port(ref it.Insn, k, leave);
                    e.Pending++;
                    break;
                case BlockOp.Generic:
                    e.Generic(k, rip, leave);
                    if (MayWrite(ref it.Insn))
                    {
                        e.CheckCodeUnchanged();
                    }

                    e.Pending++;
                    break;
                case BlockOp.GenericLast:
                    e.Generic(k, rip, leave);
                    e.Pending++;
                    e.Exit(next);
                    e.Pending = 0;
                    continue;
                case BlockOp.Rdtsc:
                    e.Rdtsc(ref it.Insn, leave);
                    e.Pending++;
                    break;
                default:
                    if (it.Kind == BlockOp.Mov && HasMemory(ref it.Insn))
                    {
                        // A MOV whose operand misses the RAM TLB: a device page's access is made in place (X86Cpu.BlockDevice.cs).
                        Label device = il.DefineLabel(), done = il.DefineLabel();
                        e.Plain(ref it.Insn, it.Kind, need, device);
                        il.Emit(OpCodes.Br, done);
                        il.MarkLabel(device);
                        e.DeviceMov(ref it.Insn, k, it.Insn.Op0Kind == OpKind.Memory, leave);
                        il.MarkLabel(done);
                    }
                    else
                    {
                        e.Plain(ref it.Insn, it.Kind, need, leave);
                    }

                    e.Pending++;
                    break;
            }

            bool fallsThrough = k + 1 < items.Count && items[k + 1].Offset == it.End;
            if (!fallsThrough)
            {
                if (shape.Stops.ContainsKey(it.End))
                {
                    e.LeaveTo(next); // an instruction no block starts at (VMCALL, say): the interpreter's at once, no look-up
                }
                else
                {
                    e.Exit(next);
                }

                e.Pending = 0;
            }
        }

        e.EmitLeavesAndEpilogue();
        il.MarkLabel(stale);
        il.Emit(OpCodes.Ldc_I4, Stale);
        il.Emit(OpCodes.Ret);
        var state = new BlockState(items.Select(x => x.Insn).ToArray(), pageHost + first, page[first..end],
            runs.Select(r => (r.Start - first, r.End - r.Start)).ToArray());
        return (BlockCode)method.CreateDelegate(typeof(BlockCode), state);
    }
}

using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>The block's layout: entry prologues, the body, the out-of-line stubs.</summary>
internal sealed unsafe partial class X64Lowering
{
    private enum StubKind : byte
    {
        /// <summary>Save the flags, then go to a label in the block.</summary>
        SaveThenJump,

        /// <summary>A loop head's check found an exit request or the budget spent: store the registers, leave.</summary>
        LoopLeave,

        /// <summary>A direct exit: (save the flags,) store the registers, leave through the link slot.</summary>
        Exit,

        /// <summary>A memory access that left the fast path: the whole instruction in the interpreter.</summary>
        Slow,

        /// <summary>A backward branch's own check, which computes NZCV again where it leaves (X64Lowering.LazyFlags.cs).</summary>
        EdgeCheck,

        /// <summary>A single-register access whose TLB look-up missed: the access helper (X64Lowering.ExitHelpers.cs; Target holds the syndrome).</summary>
        Access,
    }

    // Lazy: the operation NZCV is computed again from before the stub's path needs the image (-1: none needed).
    private record struct Stub(StubKind Kind, AsmLabel Label, IrFlags Eflags, bool Save, int Target, int Insn, int Pending, AsmLabel To, int Lazy);

    private AsmLabel AddStub(StubKind kind, IrFlags eflags = IrFlags.None, bool save = false, int target = 0, int pending = 0, AsmLabel to = default)
    {
        AsmLabel label = _asm.NewLabel();
        _stubs.Add(new Stub(kind, label, eflags, save, target, _k, pending, to, LazyOnly ? _lazy : -1));
        return label;
    }

    /// <summary>
    /// One entry per entry instruction: its ordinal in rcx, a call of the shared entry routine (exit
    /// request, budget, stale check, mapped registers loaded: <see cref="EmitSharedRoutines"/>), then its label.
    /// </summary>
    private void EmitPrologues()
    {
        for (int k = 0; k < _b.Indices.Length; k++)
        {
            if (!_b.IsEntry[k])
            {
                continue;
            }

            AsmLabel entry = _asm.NewLabel();
            _asm.Bind(entry);
            int landingPad = (_b.Mode & BlockMode.Bti) != 0 ? LandingPadMask(_b.Words[k]) : 0;
            _asm.MovImm(Reg.Rcx, (ulong)(uint)(_entries.Count | (landingPad << 16)));
            _asm.Call(_enterRoutine);
            _asm.Jmp(_insnLabels[k]);
            _entries.Add((_b.Indices[k], entry));
        }
    }

    /// <summary>
    /// The block's shared routines (near calls; inside them rsp is 8 off the 16-byte alignment):
    /// <list type="bullet">
    /// <item>enter (rcx = entry ordinal, and in a BTI block its landing-pad mask &lt;&lt; 16): leaves for the run loop (dropping its return address) on an exit
    /// request, an exhausted budget or changed words, else loads the mapped guest registers;</item>
    /// <item>store and load: the written mapped registers to the context, all mapped ones from it;</item>
    /// <item>interpret (rcx = position | retired count &lt;&lt; 16): the instruction in the interpreter,
    /// registers through the context, eax = what the helper returned;</item>
    /// <item>leave (jumped to with that eax non-zero): the exit the interpreter asked for.</item>
    /// </list>
    /// </summary>
    private void EmitSharedRoutines()
    {
        AsmLabel check = _asm.NewLabel(), stale = _asm.NewLabel();
        _asm.Bind(_enterRoutine);
        int entryBound = 0;
        for (int k = 0; k < _b.Indices.Length; k++)
        {
            entryBound = _b.IsEntry[k] ? Math.Max(entryBound, _bounds[k]) : entryBound;
        }

        _asm.AluMemImm(Alu.Cmp, Ctx(ContextOffsets.ExitRequest), 0, 4);
        _asm.Jcc(Cc.NE, check);
        _asm.AluImm(Alu.Cmp, X64Layout.Budget, entryBound, true); // enough budget for the longest run to the next check
        _asm.Jcc(Cc.L, check);
        EmitStaleCheck(stale);
        if ((_b.Mode & BlockMode.Bti) != 0)
        {
            // The entry's instruction runs: its landing pad checked, PSTATE.BTYPE = 00.
            EmitLandingPadCheck(check);
        }

        _asm.AluMemImm(Alu.Add, Ctx(ContextOffsets.BlockEntries), 1, 8);
        LoadMapped();
        _asm.Ret();

        // Nothing ran: the run loop sets PC from the entry.
        _asm.Bind(check);
        EntryExit(NativeExit.EntryCheck);
        _asm.Bind(stale);
        EntryExit(NativeExit.Stale);

        if (_storeUsed)
        {
            _asm.Bind(_storeRoutine);
            StoreWrittenInline();
            _asm.Ret();
        }

        if (_interpretUsed)
        {
            _asm.Bind(_loadRoutine);
            LoadMapped();
            _asm.Ret();

            _asm.Bind(_interpretRoutine);
            _asm.Store(Ctx(ContextOffsets.Scratch), Reg.Rcx, 8);
            _asm.Store(Ctx(ContextOffsets.BudgetLeft), X64Layout.Budget, 8); // the helper's exact retired count (Arm64Cpu.RetiredNow)
            StoreWrittenInline();
            _asm.AluImm(Alu.Sub, Reg.Rsp, 8, true); // the helper is called with rsp 16-byte aligned
            _asm.Mov(Reg.Rdi, X64Layout.Context);
            _asm.MovImm(Reg.Rsi, (ulong)_blockId);
            _asm.Movzx(Reg.Rdx, Reg.Rcx, 2);
            _asm.CallMem(Ctx(ContextOffsets.Helper(NativeHelper.Interpret)));
            _asm.AluImm(Alu.Add, Reg.Rsp, 8, true);
            _asm.Call(_loadRoutine);
            _asm.Ret();

            // rax: Jump (retired; PC set: on through the jump cache), Retired (retired; PC set: to the run loop),
            // else the exit code of an exception or a trap (not retired); the retired count in Scratch bits 16+.
            AsmLabel jump = _asm.NewLabel(), retired = _asm.NewLabel();
            _asm.Bind(_leaveRoutine);
            _asm.Load(Reg.Rcx, Ctx(ContextOffsets.Scratch), 4);
            _asm.ShiftImm(Shift.Shr, Reg.Rcx, 16, false);
            _asm.AluImm(Alu.Cmp, Reg.Rax, (int)NativeExit.Jump, true);
            _asm.Jcc(Cc.E, jump);
            _asm.AluImm(Alu.Cmp, Reg.Rax, (int)NativeExit.Retired, true);
            _asm.Jcc(Cc.E, retired);
            _asm.AluImm(Alu.Sub, Reg.Rcx, 1, false);
            _asm.Bind(retired);
            _asm.Alu(Alu.Sub, X64Layout.Budget, Reg.Rcx, true);
            _asm.JmpAbsolute(_runtime.Epilogue);
            _asm.Bind(jump);
            _asm.Alu(Alu.Sub, X64Layout.Budget, Reg.Rcx, true);
            _asm.Load(Reg.Rax, Ctx(ContextOffsets.Pc), 8);
            _asm.JmpAbsolute(_runtime.JumpLookup);
        }
    }

    /// <summary>Leaves the enter routine for the run loop: its return address dropped, the entry ordinal (rcx) in the exit code.</summary>
    private void EntryExit(NativeExit reason)
    {
        _asm.AluImm(Alu.Add, Reg.Rsp, 8, true);
        _asm.Movzx(Reg.Rcx, Reg.Rcx, 2); // without a BTI block's landing-pad mask
        _asm.ShiftImm(Shift.Shl, Reg.Rcx, 8, true);
        _asm.MovImm(Reg.Rax, ExitCode(reason, 0));
        _asm.Alu(Alu.Or, Reg.Rax, Reg.Rcx, true);
        _asm.JmpAbsolute(_runtime.Epilogue);
    }

    /// <summary>
    /// Compares guest memory with the words the block was translated from (two adjacent ones at a time),
    /// going to <paramref name="stale"/> if any differs: a write to the code by any PE, DMA or the VMM is
    /// seen at the next entry, as the decode cache sees it at the next fetch.
    /// </summary>
    private void EmitStaleCheck(AsmLabel stale)
    {
        int[] indices = _b.Indices;
        uint[] words = _b.Words;
        _asm.MovImm(Reg.Rax, (ulong)_b.Host);
        for (int k = 0; k < indices.Length;)
        {
            var at = new Mem(Reg.Rax, 4 * indices[k]);
            if (k + 1 < indices.Length && indices[k + 1] == indices[k] + 1)
            {
                _asm.MovImm(Reg.Rdx, words[k] | ((ulong)words[k + 1] << 32));
                _asm.CmpMemReg(at, Reg.Rdx, true);
                k += 2;
            }
            else
            {
                _asm.AluMemImm(Alu.Cmp, at, unchecked((int)words[k]), 4);
                k++;
            }

            _asm.Jcc(Cc.NE, stale);
        }
    }

    private void EmitBody()
    {
        _reachable = false;
        int n = _b.Indices.Length;
        for (int k = 0; k < n; k++)
        {
            _k = k;
            if (_b.IsLabel[k])
            {
                int first = _b.FirstOp[k];
                if (_reachable)
                {
                    _op = first;
                    SyncBudget(_pending);
                    if (_b.FlagsLiveIn[first])
                    {
                        FlushFlags();
                    }
                }

                if (_checkLabels[k] is { } check)
                {
                    // A loop head: backward branches come through the exit-request and budget check (the
                    // flags are in the image where they are live); fall-through and entries skip it.
                    if (_reachable)
                    {
                        _asm.Jmp(_insnLabels[k]);
                    }

                    _asm.Bind(check);
                    AsmLabel leave = AddStub(StubKind.LoopLeave, target: _b.Indices[k]);
                    _asm.AluMemImm(Alu.Cmp, Ctx(ContextOffsets.ExitRequest), 0, 4);
                    _asm.Jcc(Cc.NE, leave);
                    _asm.AluImm(Alu.Cmp, X64Layout.Budget, _bounds[k], true);
                    _asm.Jcc(Cc.L, leave);
                }

                _asm.Bind(_insnLabels[k]);
                _pending = 0;
                _eflags = IrFlags.None;
                _imageValid = true;
                _lazy = -1;
                _reachable = true;
            }

            if (!_reachable)
            {
                continue; // only reachable through a label that is not there (the block's discovery never does this)
            }

            _pending++; // this instruction, once it completes
            bool endBound = false;
            for (int i = _b.FirstOp[k]; i < _b.FirstOp[k + 1]; i++)
            {
                if (_b.Ops[i].Fallthrough && !endBound)
                {
                    BindEnd(k);
                    endBound = true;
                }

                _op = i;
                LowerOp(ref _b.Ops[i]);
            }

            if (!endBound)
            {
                BindEnd(k);
            }
        }
    }

    /// <summary>Binds the end of instruction k, where its slow paths come back to.</summary>
    private void BindEnd(int k)
    {
        _asm.Bind(_endLabels[k]);
        if (_endUsed[k])
        {
            // A slow path arrives with the registers reloaded, the flags in the image and the host flags destroyed.
            _reachable = true;
            _eflags = IrFlags.None;
        }
    }

    private void LowerOp(ref IrInstruction op)
    {
        if (!_reachable && op.Op != IrOpcode.Nop)
        {
            return;
        }

        EndLazyBefore(op);
        switch (op.Op)
        {
            case IrOpcode.Nop:
                break;
            case IrOpcode.Mov:
                LowerMov(op);
                break;
            case IrOpcode.Add:
                LowerAlu(op, Alu.Add, commutative: true);
                break;
            case IrOpcode.Sub:
                LowerAlu(op, Alu.Sub, commutative: false);
                break;
            case IrOpcode.And:
                LowerAlu(op, Alu.And, commutative: true);
                break;
            case IrOpcode.Or:
                LowerAlu(op, Alu.Or, commutative: true);
                break;
            case IrOpcode.Xor:
                LowerAlu(op, Alu.Xor, commutative: true);
                break;
            case IrOpcode.AndNot:
                LowerInverted(op, Alu.And);
                break;
            case IrOpcode.OrNot:
                LowerInverted(op, Alu.Or);
                break;
            case IrOpcode.XorNot:
                LowerInverted(op, Alu.Xor);
                break;
            case IrOpcode.Adc or IrOpcode.Sbc:
                LowerCarry(op);
                break;
            case IrOpcode.Shl:
                LowerShift(op, Shift.Shl);
                break;
            case IrOpcode.Shr:
                LowerShift(op, Shift.Shr);
                break;
            case IrOpcode.Sar:
                LowerShift(op, Shift.Sar);
                break;
            case IrOpcode.Ror:
                LowerShift(op, Shift.Ror);
                break;
            case IrOpcode.Mul:
                LowerMul(op);
                break;
            case IrOpcode.MulHighSigned or IrOpcode.MulHighUnsigned:
                LowerMulHigh(op);
                break;
            case IrOpcode.DivSigned or IrOpcode.DivUnsigned:
                LowerDiv(op);
                break;
            case IrOpcode.Neg or IrOpcode.Not or IrOpcode.Rev:
                LowerUnary(op);
                break;
            case IrOpcode.Clz:
                LowerClz(op);
                break;
            case IrOpcode.Rbit or IrOpcode.Rev16:
                LowerBitSwaps(op);
                break;
            case IrOpcode.Crc32 or IrOpcode.Crc32c:
                LowerCrc(op);
                break;
            case IrOpcode.SignExtend or IrOpcode.ZeroExtend:
                LowerExtend(op);
                break;
            case IrOpcode.Select:
                LowerSelect(op);
                break;
            case IrOpcode.CondCompare:
                LowerCondCompare(op);
                break;
            case IrOpcode.Load or IrOpcode.Store:
                LowerMemory(op);
                break;
            case IrOpcode.ReadState:
                {
                    Reg d = DstReg(op.Dst);
                    if (op.Dst.Kind != IrKind.None)
                    {
                        _asm.Load(d, Ctx((int)op.Imm), op.Size);
                        Commit(op.Dst, d);
                    }

                    break;
                }

            case IrOpcode.WriteState:
                _asm.Store(Ctx((int)op.Imm), InReg(op.A, Reg.Rax, true), op.Size);
                break;
            case IrOpcode.ZeroBlock:
                LowerZeroBlock(op);
                break;
            case IrOpcode.Atomic:
                LowerAtomic(op);
                break;
            case IrOpcode.Pac:
                LowerPac(op);
                break;
            case IrOpcode.Fence:
                PrepareClobber(); // lock or sets the host flags
                _asm.MemoryFence();
                break;
            case IrOpcode.Branch:
                JumpTo(op.Target, null);
                break;
            case IrOpcode.BranchCond:
                JumpTo(op.Target, Condition(op.Cond));
                break;
            case IrOpcode.BranchZero or IrOpcode.BranchNotZero or IrOpcode.BranchBitClear or IrOpcode.BranchBitSet:
                LowerTestBranch(op);
                break;
            case IrOpcode.BranchIndirect:
                LowerIndirect(op);
                break;
            case IrOpcode.Fallback:
                LowerFallback();
                break;
            case IrOpcode.InterruptCheck:
                LowerInterruptCheck();
                break;
            case IrOpcode.Reenter:
                // Leave and come back in at the next instruction through the jump cache: its entry's stale
                // check sees code the guest changed before the context synchronization (ISB).
                SyncBudget(_pending);
                _pending = 0;
                FlushFlags();
                StoreWritten();
                _asm.MovImm(Reg.Rax, _b.PcOf(op.Target));
                _asm.JmpAbsolute(_runtime.JumpLookup);
                _reachable = false;
                break;
            default:
                throw new InvalidOperationException($"no lowering for IR {op.Op}");
        }
    }

    /// <summary>Records an exit to instruction index <paramref name="target"/> and returns its index.</summary>
    private int AddExit(int target, bool chainable)
    {
        nint slot = chainable ? _runtime.AllocateSlot() : 0;
        _exits.Add((_b.PcOf(target), slot, chainable ? _asm.NewLabel() : default));
        return _exits.Count - 1;
    }

    private void EmitStubs()
    {
        // Stubs may add stubs (an exit's tail): iterate by index.
        for (int s = 0; s < _stubs.Count; s++)
        {
            Stub stub = _stubs[s];
            _asm.Bind(stub.Label);
            _k = stub.Insn;
            switch (stub.Kind)
            {
                case StubKind.SaveThenJump:
                    SaveStubFlags(stub);
                    _asm.Jmp(stub.To);
                    break;
                case StubKind.EdgeCheck:
                    EmitEdgeCheck(stub);
                    break;
                case StubKind.LoopLeave:
                    StoreWritten();
                    ReturnToRunLoop(ExitCode(NativeExit.BackEdgeCheck, AddExit(stub.Target, chainable: false)));
                    break;
                case StubKind.Exit:
                    EmitExit(stub);
                    break;
                case StubKind.Slow:
                    EmitSlowPath(stub);
                    break;
                case StubKind.Access:
                    EmitAccessPath(stub);
                    break;
            }
        }
    }

    private void EmitExit(Stub stub)
    {
        SaveStubFlags(stub);
        StoreWritten();
        ulong target = _b.PcOf(stub.Target);
        if ((target >> 12) == (_b.Pc >> 12))
        {
            // Same page: a link slot the run loop points at the target block once it has one.
            int exit = AddExit(stub.Target, chainable: true);
            _asm.JmpThroughSlot((ulong)_exits[exit].Slot);
            _asm.Bind(_exits[exit].Unlinked);
            ReturnToRunLoop(ExitCode(NativeExit.Chain, exit));
        }
        else
        {
            _asm.MovImm(Reg.Rax, target);
            _asm.JmpAbsolute(_runtime.JumpLookup);
        }
    }

    /// <summary>The flags image a stub's path needs: from the host flags it was jumped to with, or computed again.</summary>
    private void SaveStubFlags(Stub stub)
    {
        if (stub.Save)
        {
            SaveFlags(stub.Eflags);
        }
        else if (stub.Lazy >= 0)
        {
            SaveLazy(stub.Lazy);
        }
    }

    private void EmitSlowPath(Stub stub)
    {
        SaveStubFlags(stub);
        CallInterpreter(stub.Insn, stub.Pending);
        _endUsed[stub.Insn] = true;
        _asm.Jmp(_endLabels[stub.Insn]);
    }

    /// <summary>
    /// Runs instruction k in the interpreter through the shared routine; anything but a plain retirement
    /// leaves through the shared leave routine.
    /// </summary>
    private void CallInterpreter(int k, int pending)
    {
        _interpretUsed = true;
        _asm.MovImm(Reg.Rcx, (ulong)(uint)(k | (pending << 16)));
        _asm.Call(_interpretRoutine);
        _asm.Test(Reg.Rax, Reg.Rax, false);
        _asm.Jcc(Cc.NE, _leaveRoutine);
    }

    /// <summary>An instruction the IR does not build: the interpreter runs it, and the block goes on after it.</summary>
    private void LowerFallback()
    {
        FlushFlags();
        _eflags = IrFlags.None;
        if (FallbackHelper() is { } kind)
        {
            CallExitHelper(kind, _k, _pending, _b.Words[_k]);
        }
        else
        {
            CallInterpreter(_k, _pending);
        }

        _imageValid = true;
        _lazy = -1;
    }
}

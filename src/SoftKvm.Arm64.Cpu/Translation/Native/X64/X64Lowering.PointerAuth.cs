using SoftKvm.Arm64.Cpu.PointerAuth;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// FEAT_PAuth and FEAT_BTI in native code.
/// <list type="bullet">
/// <item><see cref="IrOpcode.Pac"/>: the IMPDEF code (<see cref="PacImpdef"/>: one 64x64→128-bit multiplication,
/// the keys read from the context) with the masks of <see cref="PacConfiguration"/> for each half of the address
/// space, in a routine the code cache shares per operation, key and configuration. The routine computes every case
/// the interpreter does (a pointer of either half, AddPAC's corrupted code, the error code of a failed
/// authentication: FEAT_PAuth without FPAC), so a site is two operand loads, a call and the result's store, with
/// no slow path; XPAC* is inline.</item>
/// <item>BR and BLR set PSTATE.BTYPE before they jump (BR through a register other than X16, X17 looks at
/// the guarded bit of its page in the execute TLB; a miss runs it in the interpreter).</item>
/// <item>Each entry of a BTI block checks its landing pad while BTYPE is not 00: an instruction compatible
/// with BTYPE (the mask its prologue passes, from the word the stale check has just compared), or a page that is
/// not guarded (looked up only for an incompatible one), clears BTYPE and goes on; anything else leaves for the run loop with nothing run, where
/// the interpreter takes the Branch Target exception (Arm64Cpu's BranchTargets.cs: the same checks).</item>
/// </list>
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private const int TlbEntryBytes = 16;
    private const int TlbIndexMask = (1 << 10) - 1; // Arm64Cpu's TLBs have 1 << 10 entries (as the data-access walk assumes)

    private void LowerPac(in IrInstruction op)
    {
        var operation = (PacOperation)(op.Imm >> 2);
        int key = (int)op.Imm & 3;
        bool data = key >= 2;
        int selector = PacConfiguration.SelectorBit(_b.Mode, operation, data);
        PacMasks lower = PacConfiguration.Masks(_b.Mode, operation, data, upper: false);
        PacMasks upper = PacConfiguration.Masks(_b.Mode, operation, data, upper: true);

        PrepareClobber();
        LoadTo(Reg.R11, op.A, true); // r11 = the pointer, to the end
        if (operation == PacOperation.Strip)
        {
            AsmLabel high = _asm.NewLabel(), stripped = _asm.NewLabel();
            _asm.Bt(Reg.R11, selector, true);
            _asm.Jcc(Cc.B, high);
            Extended(Reg.Rax, lower);
            _asm.Jmp(stripped);
            _asm.Bind(high);
            Extended(Reg.Rax, upper);
            _asm.Bind(stripped);
            Commit(op.Dst, Reg.Rax);
            return;
        }

        // PAC* and AUT*: a call of the code cache's routine for this operation, key and configuration (about 15 bytes
        // here instead of 150 inline at each of the kernel's PACIASP and AUTIASP), or the same code inline where the
        // region has no room for one. Every case is computed there (both halves, the corrupted code of AddPAC, the
        // error code of a failed authentication): nothing leaves for the interpreter, so the site has no slow path.
        LoadTo(Reg.Rcx, op.B, true);
        bool upperSite = ((_b.PcOf(_b.Indices[op.Insn]) >> selector) & 1) != 0; // the half its pointers are mostly in
        var id = new PacRoutineKey(operation, key, selector, lower, upper, upperSite);
        ulong routine = PacRoutine(id);
        if (routine != 0)
        {
            _asm.CallAbsolute(routine);
        }
        else
        {
            AsmLabel done = _asm.NewLabel();
            EmitPacBody(id, done, routine: false);
            _asm.Bind(done);
        }

        Commit(op.Dst, Reg.Rax);
    }

    /// <summary>
    /// What a shared PAC routine computes: the operation, the key, the bit that selects the half and each half's constants;
    /// and the half whose code runs straight through (the half of the calling instruction: the kernel's return addresses
    /// and the pointers it signs are in the upper half, a task's in the lower).
    /// </summary>
    private readonly record struct PacRoutineKey(PacOperation Operation, int Key, int Selector, PacMasks Lower, PacMasks Upper, bool UpperFirst);

    /// <summary>The lowering (and assembler) the shared routines are emitted with.</summary>
    private X64Lowering? _routineLowering;

    /// <summary>
    /// The shared routine of <paramref name="id"/>, placed now if the cache has none (0 when the region is full): r11 the
    /// pointer, rcx the modifier; returns rax = the result. r10, rcx, rdx and the host flags are destroyed, everything else kept.
    /// </summary>
    private ulong PacRoutine(in PacRoutineKey id)
    {
        ulong at = _runtime.SharedRoutine(id);
        if (at != 0)
        {
            return at;
        }

        BeginRoutine(out AsmLabel done, out _).EmitPacBody(id, done, routine: true);
        X64Assembler asm = _routineLowering!._asm;
        asm.Bind(done);
        asm.Ret();
        return _runtime.PlaceSharedRoutine(id, asm, $"pac_{id.Operation}_{id.Key}_{(id.UpperFirst ? "upper" : "lower")}");
    }

    /// <summary>Starts a shared routine: the lowering its body is emitted with, and the labels of its two ends.</summary>
    private X64Lowering BeginRoutine(out AsmLabel pass, out AsmLabel fail)
    {
        _routineLowering ??= new X64Lowering(new X64Assembler());
        X64Assembler asm = _routineLowering._asm;
        asm.Reset();
        pass = asm.NewLabel();
        fail = asm.NewLabel();
        return _routineLowering;
    }

    /// <summary>Ends the routine <see cref="BeginRoutine"/> started (ZF set at <paramref name="pass"/>, clear at <paramref name="fail"/>) and places it: its address, or 0.</summary>
    private ulong PlaceRoutine<TKey>(TKey id, string name, AsmLabel pass, AsmLabel fail)
        where TKey : struct, IEquatable<TKey>
    {
        X64Assembler asm = _routineLowering!._asm;
        asm.Bind(pass);
        asm.Alu(Alu.Cmp, Reg.Rax, Reg.Rax, false); // ZF = 1
        asm.Ret();
        asm.Bind(fail);
        asm.Test(Reg.Rsp, Reg.Rsp, true); // ZF = 0 (rsp is not 0)
        asm.Ret();
        return _runtime.PlaceSharedRoutine(id, asm, name);
    }

    /// <summary>
    /// rax = the result of PAC* or AUT* (<paramref name="id"/>) of the pointer in r11 with the modifier in rcx, then to
    /// <paramref name="done"/>, as the interpreter's AddPac and Auth compute it (PointerAuthentication.cs): the half
    /// of the address space from the pointer's selector bit, each half with its own constants. A key disabled in SCTLR_EL1
    /// leaves the pointer unchanged; the enable is read here, not compiled into the block, so that Linux's flips of
    /// EnIB/EnDA/EnDB at context switches need no other blocks. r10, rcx, rdx and the host flags are destroyed.
    /// </summary>
    private void EmitPacBody(in PacRoutineKey id, AsmLabel done, bool routine)
    {
        AsmLabel disabled = _asm.NewLabel(), other = _asm.NewLabel();
        _asm.TestMemImm(Ctx(ContextOffsets.SctlrEl1), unchecked((int)PacConfiguration.EnableBit(id.Key)), 4);
        _asm.Jcc(Cc.E, disabled);
        _asm.Bt(Reg.R11, id.Selector, true);
        _asm.Jcc(id.UpperFirst ? Cc.AE : Cc.B, other);
        EmitPacHalf(id, id.UpperFirst ? id.Upper : id.Lower);
        EndPath(done, routine);
        _asm.Bind(other);
        EmitPacHalf(id, id.UpperFirst ? id.Lower : id.Upper);
        EndPath(done, routine);
        _asm.Bind(disabled);
        _asm.Mov(Reg.Rax, Reg.R11); // the caller binds done here
    }

    /// <summary>The end of one path of a PAC body: the routine's return, or inline a jump to <paramref name="done"/>.</summary>
    private void EndPath(AsmLabel done, bool routine)
    {
        if (routine)
        {
            _asm.Ret();
        }
        else
        {
            _asm.Jmp(done);
        }
    }

    /// <summary>
    /// The PAC* or AUT* of <see cref="EmitPacBody"/> for a pointer (r11) of the half whose constants are <paramref name="m"/>:
    /// r10 = the pointer with its PAC field made extension bits, rax = the code of it (<see cref="EmitImpdefCode"/>), then
    /// AddPAC: the code in the PAC field, bit 54 (with top-byte-ignore) or 62 of it inverted when the pointer was not its own
    /// extended form (the Arm ARM's corrupted code: its extension bits were not all the same); Auth: the extended pointer
    /// when the code matches, else it with the key's error code (01 for the A keys, 10 for the B keys) in bits 54:53 or 62:61.
    /// </summary>
    private void EmitPacHalf(in PacRoutineKey id, in PacMasks m)
    {
        bool tbi = (m.CodeMask & TopByteMask) == 0;
        Extended(Reg.R10, m);
        EmitImpdefCode(Reg.R10, id.Key);
        if (id.Operation == PacOperation.Add)
        {
            AsmLabel good = _asm.NewLabel();
            _asm.Alu(Alu.Cmp, Reg.R10, Reg.R11, true);
            _asm.Jcc(Cc.E, good);
            _asm.BtcImm(Reg.Rax, tbi ? 54 : 62);
            _asm.Bind(good);
            _asm.Alu(Alu.Xor, Reg.Rax, Reg.R10, true);
            AndConst(Reg.Rax, m.CodeMask);
            _asm.Alu(Alu.Xor, Reg.Rax, Reg.R10, true); // (code & CodeMask) | (extended & ~CodeMask)
        }
        else
        {
            AsmLabel end = _asm.NewLabel();
            _asm.Alu(Alu.Xor, Reg.Rax, Reg.R11, true);
            _asm.MovImm(Reg.Rdx, m.CodeMask);
            _asm.Test(Reg.Rax, Reg.Rdx, true);
            _asm.Mov(Reg.Rax, Reg.R10);
            _asm.Jcc(Cc.E, end);
            int at = tbi ? 53 : 61;
            AndConst(Reg.Rax, ~(3UL << at));
            OrConst(Reg.Rax, ((id.Key & 1) != 0 ? 2UL : 1UL) << at);
            _asm.Bind(end);
        }
    }

    private const ulong TopByteMask = 0xFF00_0000_0000_0000;

    /// <summary>
    /// <paramref name="d"/> = the pointer (r11) with its PAC field made extension bits: (ptr &amp; Keep) | Extension,
    /// which is ptr | Extension in the upper half (Keep and Extension cover every bit there) and ptr &amp; Keep in the lower.
    /// </summary>
    private void Extended(Reg d, in PacMasks m)
    {
        _asm.Mov(d, Reg.R11);
        if (m.Extension != 0)
        {
            OrConst(d, m.Extension);
        }
        else
        {
            AndConst(d, m.Keep);
        }
    }

    /// <summary>
    /// rax = <see cref="PacImpdef.ComputePac"/>(<paramref name="data"/>, rcx, key0 = Hi, key1 = Lo) of key <paramref name="key"/>
    /// (0-3: IA, IB, DA, DB): the high and low halves of (data ^ key0 ^ P0) * (modifier ^ key1 ^ P1) XORed. rdx is destroyed.
    /// </summary>
    private void EmitImpdefCode(Reg data, int key)
    {
        int keyLo = ContextOffsets.PacKeys + (16 * key);
        _asm.MovImm(Reg.Rdx, PacImpdef.P1);
        _asm.Alu(Alu.Xor, Reg.Rdx, Reg.Rcx, true);
        _asm.AluMem(Alu.Xor, Reg.Rdx, Ctx(keyLo), true);
        _asm.MovImm(Reg.Rax, PacImpdef.P0);
        _asm.Alu(Alu.Xor, Reg.Rax, data, true);
        _asm.AluMem(Alu.Xor, Reg.Rax, Ctx(keyLo + 8), true);
        _asm.MulWide(Reg.Rdx, signed: false, w64: true);
        _asm.Alu(Alu.Xor, Reg.Rax, Reg.Rdx, true);
    }

    /// <summary>r &amp;= <paramref name="mask"/> (rdx is the scratch of a mask wider than a sign-extended 32-bit immediate).</summary>
    private void AndConst(Reg r, ulong mask)
    {
        if ((long)mask == (int)(long)mask)
        {
            _asm.AluImm(Alu.And, r, (int)(long)mask, true);
        }
        else
        {
            _asm.MovImm(Reg.Rdx, mask);
            _asm.Alu(Alu.And, r, Reg.Rdx, true);
        }
    }

    /// <summary>r |= <paramref name="bits"/> (nothing for 0; rdx is the scratch of a wide constant).</summary>
    private void OrConst(Reg r, ulong bits)
    {
        if (bits == 0)
        {
            return;
        }

        if ((long)bits == (int)(long)bits)
        {
            _asm.AluImm(Alu.Or, r, (int)(long)bits, true);
        }
        else
        {
            _asm.MovImm(Reg.Rdx, bits);
            _asm.Alu(Alu.Or, r, Reg.Rdx, true);
        }
    }

    /// <summary>
    /// BR, BLR on a BTI model: PSTATE.BTYPE = the branch's (01 for BR through X16/X17, 10 for BLR; for any other
    /// BR 11 from a guarded page, 01 otherwise or with the MMU off). BTYPE is 00 in a block (its entry cleared
    /// it, and what runs in the interpreter and goes on in the block sets no other), so it is set by OR-ing.
    /// </summary>
    private void LowerBranchTargetType(in IrInstruction op)
    {
        PrepareClobber();
        Mem pstate = Ctx(ContextOffsets.PstateFlags);
        if (op.Imm != IrInstruction.BtypeByPage)
        {
            _asm.AluMemImm(Alu.Or, pstate, (int)op.Imm << Psr.BtypeShift, 4);
            return;
        }

        ulong pc = _b.PcOf(_b.Indices[op.Insn]);
        AsmLabel slow = AddStub(StubKind.Slow, pending: _pending), set = _asm.NewLabel();
        _asm.MovImm(Reg.Rdx, 1u << Psr.BtypeShift);
        _asm.TestMemImm(Ctx(ContextOffsets.SctlrEl1), 1, 4); // SCTLR_EL1.M
        _asm.Jcc(Cc.E, set);
        EmitExecTlbProbe(pc, slow, Reg.Rax, Reg.Rcx);
        _asm.Jcc(Cc.E, set);
        _asm.MovImm(Reg.Rdx, 3u << Psr.BtypeShift);
        _asm.Bind(set);
        _asm.Load(Reg.Rax, pstate, 4);
        _asm.Alu(Alu.Or, Reg.Rax, Reg.Rdx, false);
        _asm.Store(pstate, Reg.Rax, 4);
    }

    /// <summary>
    /// The execute TLB must map the page of <paramref name="pc"/> (else to <paramref name="miss"/>); then ZF =
    /// its page is not guarded. <paramref name="a"/> and <paramref name="b"/> are destroyed.
    /// </summary>
    private void EmitExecTlbProbe(ulong pc, AsmLabel miss, Reg a, Reg b)
    {
        int index = (int)(pc >> 12) & TlbIndexMask;
        _asm.MovImm(a, pc & ~0xFFFUL);
        _asm.AluMem(Alu.Or, a, Ctx(ContextOffsets.TagEl), true);
        _asm.Load(b, Ctx(ContextOffsets.ExecTlb), 8);
        _asm.CmpMemReg(new Mem(b, index * TlbEntryBytes), a, true);
        _asm.Jcc(Cc.NE, miss);
        _asm.Load(b, Ctx(ContextOffsets.ExecInfo), 8);
        _asm.Load(a, new Mem(b, index), 1);
        _asm.TestImm(a, Arm64Cpu.InfoGuarded, false);
    }

    /// <summary>
    /// In the enter routine of a BTI block (rcx = entry ordinal | landing-pad mask &lt;&lt; 16, after the stale
    /// check): while PSTATE.BTYPE != 00, to <paramref name="leave"/> unless the page is unguarded or the entry's
    /// instruction is a compatible landing pad (as <c>BranchTargetPasses</c> decides in the run loop), which then
    /// clears BTYPE. With BTYPE 00 (most entries) nothing is written. The check itself is the code cache's routine
    /// for the EL (about 20 bytes in each block instead of 100), or inline where the region has no room for one.
    /// </summary>
    private void EmitLandingPadCheck(AsmLabel leave)
    {
        AsmLabel done = _asm.NewLabel();
        _asm.TestMemImm(Ctx(ContextOffsets.PstateFlags), (int)Psr.Btype, 4);
        _asm.Jcc(Cc.E, done);
        _asm.MovImm(Reg.R10, _b.Pc & ~0xFFFUL);
        bool el1 = (_b.Mode & BlockMode.El1) != 0;
        ulong routine = LandingPadRoutine(el1);
        if (routine != 0)
        {
            _asm.CallAbsolute(routine);
            _asm.Jcc(Cc.NE, leave);
        }
        else
        {
            EmitLandingPadBody(el1, done, leave);
        }

        _asm.Bind(done);
    }

    /// <summary>What a shared landing-pad routine checks: the EL whose SCTLR_EL1.BTn applies (BT1 at EL1, BT0 at EL0).</summary>
    private readonly record struct LandingPadRoutineKey(bool El1);

    /// <summary>
    /// The shared landing-pad check for <paramref name="el1"/>, placed now if the cache has none (0 when the region is
    /// full): r10 the page of the entry, rcx as the enter routine has it (kept); returns ZF set when the entry may run
    /// (BTYPE cleared), ZF clear to leave. rax, rdx, r10, r11 and the other host flags are destroyed.
    /// </summary>
    private ulong LandingPadRoutine(bool el1)
    {
        var id = new LandingPadRoutineKey(el1);
        ulong at = _runtime.SharedRoutine(id);
        if (at != 0)
        {
            return at;
        }

        BeginRoutine(out AsmLabel pass, out AsmLabel leave).EmitLandingPadBody(el1, pass, leave);
        return PlaceRoutine(id, $"bti_landing_pad_el{(el1 ? 1 : 0)}", pass, leave);
    }

    /// <summary>
    /// The landing-pad check of an entry in page r10 (rcx = entry ordinal | landing-pad mask &lt;&lt; 16, kept) while
    /// BTYPE != 00: BTYPE cleared and to <paramref name="pass"/>, or to <paramref name="leave"/> (also on an execute TLB miss).
    /// </summary>
    private void EmitLandingPadBody(bool el1, AsmLabel pass, AsmLabel leave)
    {
        AsmLabel clear = _asm.NewLabel(), incompatible = _asm.NewLabel();

        // An instruction compatible with BTYPE passes on any page (the kernel's BTI c and PACIASP after BLR): the
        // guarded bit of the page is looked up only for an incompatible one.
        _asm.Load(Reg.Rax, Ctx(ContextOffsets.PstateFlags), 4);
        _asm.ShiftImm(Shift.Shr, Reg.Rax, Psr.BtypeShift, false);
        _asm.AluImm(Alu.And, Reg.Rax, 3, false);
        _asm.Mov(Reg.Rdx, Reg.Rcx, false);
        _asm.ShiftImm(Shift.Shr, Reg.Rdx, 16, false);
        _asm.BtReg(Reg.Rdx, Reg.Rax);
        _asm.Jcc(Cc.AE, incompatible);
        _asm.TestImm(Reg.Rdx, LandingPadNeedsBt, false);
        _asm.Jcc(Cc.E, clear);
        _asm.AluImm(Alu.Cmp, Reg.Rax, 3, false);
        _asm.Jcc(Cc.NE, clear);
        // PACIASP/PACIBSP with BTYPE 11: not a landing pad under SCTLR_EL1.BT1 (EL1) or BT0 (EL0), bits 36 and 35.
        _asm.TestMemImm(Ctx(ContextOffsets.SctlrEl1 + 4), el1 ? 1 << 4 : 1 << 3, 4);
        _asm.Jcc(Cc.E, clear);

        // Not a landing pad: it runs only from a page that is not guarded. The execute TLB's entry of the page (as
        // EmitExecTlbProbe, the index computed here): a miss leaves too.
        _asm.Bind(incompatible);
        _asm.Mov(Reg.R11, Reg.R10);
        _asm.ShiftImm(Shift.Shr, Reg.R11, 12, true);
        _asm.AluImm(Alu.And, Reg.R11, TlbIndexMask, false);
        _asm.AluMem(Alu.Or, Reg.R10, Ctx(ContextOffsets.TagEl), true);
        _asm.Load(Reg.Rax, Ctx(ContextOffsets.ExecInfo), 8);
        _asm.Alu(Alu.Add, Reg.Rax, Reg.R11, true);
        _asm.ShiftImm(Shift.Shl, Reg.R11, 4, true); // * TlbEntryBytes
        _asm.AluMem(Alu.Add, Reg.R11, Ctx(ContextOffsets.ExecTlb), true);
        _asm.CmpMemReg(new Mem(Reg.R11, 0), Reg.R10, true);
        _asm.Jcc(Cc.NE, leave);
        _asm.Load(Reg.Rax, new Mem(Reg.Rax, 0), 1);
        _asm.TestImm(Reg.Rax, Arm64Cpu.InfoGuarded, false);
        _asm.Jcc(Cc.NE, leave);
        _asm.Bind(clear);
        _asm.AluMemImm(Alu.And, Ctx(ContextOffsets.PstateFlags), unchecked((int)~Psr.Btype), 4);
        _ = pass; // bound right here by both callers
    }

    /// <summary>The landing-pad mask bit of PACIASP/PACIBSP: BTYPE 11 is compatible only while SCTLR_EL1.BTn is 0.</summary>
    private const int LandingPadNeedsBt = 1 << 4;

    /// <summary>
    /// The BTYPEs instruction <paramref name="insn"/> is a landing pad for, as bits 1-3 (BTypeCompatible of
    /// BranchTargets.cs), with <see cref="LandingPadNeedsBt"/> where BTYPE 11 also depends on SCTLR_EL1.BTn.
    /// </summary>
    internal static int LandingPadMask(uint insn)
    {
        const int Any = 0b1110;
        if ((insn & 0xFFFF_F01F) == 0xD503_201F)
        {
            return ((insn >> 5) & 0x7F) switch
            {
                0x19 or 0x1B => Any | LandingPadNeedsBt, // PACIASP, PACIBSP
                0x22 => 0b0110, // BTI c: not 11
                0x24 => 0b1010, // BTI j: not 10
                0x26 => Any, // BTI jc
                _ => 0,
            };
        }

        // BRK and HLT: their own exception has priority over the Branch Target exception.
        return (insn & 0xFFE0_001F) is 0xD420_0000 or 0xD440_0000 ? Any : 0;
    }
}

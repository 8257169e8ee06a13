using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Calls of the exit helpers (Arm64Cpu.ExitHelpers.cs) where the interpreter ran the instruction before: a
/// single-register load or store with a valid syndrome whose TLB look-up missed (an MMIO access, or a page not in
/// the TLB yet), and in EL1 code MRS/MSR of the GIC CPU-interface registers and HVC/SMC. What the instruction does is known
/// here and passed in a descriptor (syndrome or word, and the instruction's offset in the block); the call goes
/// through a shared routine of the block as the interpreter's does (registers stored, reloaded after; the budget
/// and retired count stored for an exact fault), and anything but a plain completion leaves through the shared
/// leave routine.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private AsmLabel _exitHelperRoutine, _exitHelperResume;
    private bool _exitHelperUsed;

    /// <summary>
    /// The block's resume routine, where the run loop goes on after an exit helper's access that left for the VMM once it
    /// has completed it (Arm64Cpu.Resume.cs); null when the block calls no exit helper.
    /// </summary>
    public AsmLabel? ExitHelperResume => _exitHelperUsed ? _exitHelperResume : null;

    /// <summary>Forgets the routine of the last block (at the start of <see cref="Lower"/>).</summary>
    private void ResetExitHelpers() => _exitHelperUsed = false;

    /// <summary>
    /// The syndrome (with WnR for a store) the access helper completes load or store <paramref name="op"/> (operation
    /// <see cref="_op"/> of instruction <see cref="_k"/>) with, or 0 when its slow path must run the whole instruction
    /// in the interpreter: a pair, an exclusive, LDTR/STTR, LDAR/STLR, a literal, or one with writeback or anything
    /// else after the access.
    /// </summary>
    private uint AccessHelperSyndrome(in IrInstruction op)
    {
        if (op.Pair || op.Exclusive || op.Unprivileged || op.Aligned
            || _b.Decoded[_k] is not (A64Op.LdStUnsignedOffset or A64Op.LdStRegOffset or A64Op.LdStUnscaled))
        {
            return 0;
        }

        for (int i = _op + 1; i < _b.FirstOp[_k + 1]; i++)
        {
            if (!_b.Ops[i].Fallthrough)
            {
                return 0;
            }
        }

        uint word = _b.Words[_k];
        if (((word >> 26) & 1) != 0)
        {
            return 0; // FP/SIMD registers are not built (defensive)
        }

        uint iss = Esr.IssIsv | ((uint)BitOperations.Log2(op.Size) << Esr.IssSasShift) | (op.Signed ? Esr.IssSse : 0)
            | ((word & 31) << Esr.IssSrtShift) | (op.W64 ? Esr.IssSf : 0);
        return op.Op == IrOpcode.Store ? iss | Esr.IssWnR : iss;
    }

    /// <summary>The stub a TLB miss of the access with syndrome <paramref name="iss"/> goes to (the guest address in rax).</summary>
    private AsmLabel AddAccessStub(uint iss) => AddStub(StubKind.Access, target: (int)iss, pending: _pending);

    /// <summary>The access helper for the TLB miss of stub <paramref name="stub"/> (its syndrome in Target); on after the instruction.</summary>
    private void EmitAccessPath(Stub stub)
    {
        if ((stub.Target & Esr.IssWnR) == 0 && ((stub.Target >> Esr.IssSasShift) & 3) == 2)
        {
            EmitFixedDeviceRead(stub);
        }

        if (stub.Lazy >= 0)
        {
            // NZCV into the image, as the interpreter's slow path does (the access may leave for the run loop); computing
            // it again takes rax and rcx, and rax holds the address: rdx keeps it (the helper call sets rdx after).
            _asm.Mov(Reg.Rdx, Reg.Rax);
            SaveStubFlags(stub);
            _asm.Mov(Reg.Rax, Reg.Rdx);
        }

        CallExitHelper(ExitHelperKind.Access, stub.Insn, stub.Pending, (uint)stub.Target);
        _endUsed[stub.Insn] = true;
        _asm.Jmp(_endLabels[stub.Insn]);
    }

    /// <summary>
    /// A 4-byte load's miss (rax = the guest address): completed here when the read IO TLB maps its page (the tag of the
    /// access, as the RAM TLB compares it, with the address's low two bits so that a misaligned one misses), the page's slot
    /// names that IPA page and a table, the bus is at the slot's generation, and the word is marked in the table: the
    /// statistics counted, the value kept for the run state, the register written as the inline load would, on after
    /// the instruction (Arm64Cpu.DeviceReads.cs). Otherwise on into the access helper, with rax unchanged. Uses rax, rcx,
    /// rdx and the instruction's temporaries (r10, r11), which nothing after the access reads.
    /// </summary>
    private void EmitFixedDeviceRead(Stub stub)
    {
        IrInstruction op = default;
        for (int i = _b.FirstOp[stub.Insn]; i < _b.FirstOp[stub.Insn + 1]; i++)
        {
            if (_b.Ops[i].Op == IrOpcode.Load)
            {
                op = _b.Ops[i];
            }
        }

        if (op.Op != IrOpcode.Load || op.Size != 4)
        {
            return;
        }

        AsmLabel helper = _asm.NewLabel();
        int reads = ContextOffsets.DeviceReads;
        Reg io = X64Layout.Temp(0), table = X64Layout.Temp(1);
        _asm.Mov(Reg.Rdx, Reg.Rax);
        _asm.AluImm(Alu.And, Reg.Rdx, ~0xFFC, true);
        _asm.AluMem(Alu.Or, Reg.Rdx, Ctx(ContextOffsets.TagEl), true);
        _asm.Mov(Reg.Rcx, Reg.Rax, false);
        _asm.ShiftImm(Shift.Shr, Reg.Rcx, 12 - TlbEntryShift, false);
        _asm.AluImm(Alu.And, Reg.Rcx, (Arm64Cpu.IoTlbEntries - 1) << TlbEntryShift, false); // rcx = slot * 16, in both arrays
        _asm.Load(io, Ctx(reads + DeviceReadOffsets.ReadIoTlb), 8);
        _asm.CmpMemReg(new Mem(io, 0, Reg.Rcx), Reg.Rdx, true);
        _asm.Jcc(Cc.NE, helper);
        _asm.Load(io, new Mem(io, 8, Reg.Rcx), 8); // the IPA page
        _asm.CmpMemReg(new Mem(X64Layout.Context, reads + DeviceReadOffsets.Slots, Reg.Rcx), io, true);
        _asm.Jcc(Cc.NE, helper);
        _asm.Load(table, new Mem(X64Layout.Context, reads + DeviceReadOffsets.Slots + 8, Reg.Rcx), 8);
        _asm.Load(io, Ctx(reads + DeviceReadOffsets.BusGeneration), 8);
        _asm.Load(Reg.Rdx, new Mem(io, 0), 8);
        _asm.AluMem(Alu.Cmp, Reg.Rdx, Ctx(reads + DeviceReadOffsets.BusGenerationSeen), true);
        _asm.Jcc(Cc.NE, helper);
        _asm.Mov(Reg.Rcx, Reg.Rax, false);
        _asm.AluImm(Alu.And, Reg.Rcx, 0xFFC, false);
        _asm.TestMemImm(new Mem(table, 4, Reg.Rcx, 2), 1, 1); // bit 32 of the word's entry: a fixed value
        _asm.Jcc(Cc.E, helper);

        // The exit, as the hypervisor's in-kernel completion counts it, and its data for the run state.
        _asm.Load(io, Ctx(reads + DeviceReadOffsets.Exits), 8);
        _asm.AluMemImm(Alu.Add, new Mem(io, 0), 1, 8);
        _asm.Load(io, Ctx(reads + DeviceReadOffsets.MmioExitKernel), 8);
        _asm.AluMemImm(Alu.Add, new Mem(io, 0), 1, 8);
        _asm.AluMemImm(Alu.Add, Ctx(reads + DeviceReadOffsets.Count), 1, 8);
        _asm.Load(Reg.Rdx, new Mem(table, 0, Reg.Rcx, 2), 4);
        _asm.Store(Ctx(reads + DeviceReadOffsets.MmioValue), Reg.Rdx, 8);
        _asm.StoreImm(Ctx(reads + DeviceReadOffsets.MmioPending), 1, 4);
        LoadValue(op.Dst, new Mem(table, 0, Reg.Rcx, 2), op);
        _endUsed[stub.Insn] = true;
        _asm.Jmp(_endLabels[stub.Insn]);
        _asm.Bind(helper);
    }

    /// <summary>
    /// What the exit helper does for instruction <see cref="_k"/>, an instruction the IR does not build: in EL1 code an MRS
    /// or MSR of a GIC CPU-interface register (<see cref="ExitHelperKind.Controller"/>), an HVC or SMC
    /// (<see cref="ExitHelperKind.Hypercall"/>); null when the interpreter runs it.
    /// </summary>
    private ExitHelperKind? FallbackHelper()
    {
        uint word = _b.Words[_k];
        if ((_b.Mode & BlockMode.El1) == 0)
        {
            return null;
        }

        return _b.Decoded[_k] switch
        {
            A64Op.Mrs or A64Op.MsrReg when Arm64Cpu.IsControllerRegister((word >> 5) & 0xFFFF) => ExitHelperKind.Controller,
            A64Op.Hvc or A64Op.Smc => ExitHelperKind.Hypercall,
            _ => null,
        };
    }

    /// <summary>
    /// Calls the exit helper for instruction <paramref name="k"/> to do <paramref name="kind"/> with <paramref name="low"/>
    /// in the descriptor's low half (rax, the guest address of an access, passes through); a non-zero result leaves
    /// through the leave routine.
    /// </summary>
    private void CallExitHelper(ExitHelperKind kind, int k, int pending, uint low)
    {
        _interpretUsed = true; // the load and leave routines
        if (!_exitHelperUsed)
        {
            _exitHelperUsed = true;
            _exitHelperRoutine = _asm.NewLabel();
            _exitHelperResume = _asm.NewLabel();
        }

        AsmLabel? after = kind == ExitHelperKind.Controller ? EmitNativeEoi(low) : null;
        _asm.MovImm(Reg.Rcx, (ulong)(uint)(k | (pending << 16)));
        _asm.MovImm(Reg.Rdx, low | ((ulong)(ushort)(4 * _b.Indices[k]) << 32) | ((ulong)kind << 48));
        _asm.Call(_exitHelperRoutine);
        _asm.Test(Reg.Rax, Reg.Rax, false);
        _asm.Jcc(Cc.NE, _leaveRoutine);
        if (after is { } label)
        {
            _asm.Bind(label);
        }
    }

    /// <summary>MSR ICC_EOIR1_EL1, Xt: MSR (register) is 0xD5000000 with the register's key in bits 20:5 (bit 21, L, clear)
    /// and Rt in the low five bits (0xD518CC20).</summary>
    private const uint MsrIccEoir1 = 0xD5000000 | (SysReg.IccEoir1El1 << 5);

    /// <summary>
    /// For an MSR ICC_EOIR1_EL1 of a general register (<paramref name="word"/>): the EOI completed here when the PE's EOI
    /// slot is armed with its INTID (Arm64Cpu.DeviceReads.cs, <see cref="Arm64Cpu.SetNativeEoiSlot"/>): one compare-and-swap
    /// from armed to completed, then on after the instruction (the label returned, bound after the helper's call);
    /// otherwise on into the helper's call. Uses rax, rcx and rdx, which the call sets after. Null for any other word.
    /// </summary>
    private AsmLabel? EmitNativeEoi(uint word)
    {
        int rt = (int)word & 31;
        if ((word & ~31u) != MsrIccEoir1 || rt == 31)
        {
            return null;
        }

        AsmLabel helper = _asm.NewLabel(), after = _asm.NewLabel();
        _asm.Load(Reg.Rcx, Ctx(ContextOffsets.DeviceReads + DeviceReadOffsets.EoiSlot), 8);
        _asm.Test(Reg.Rcx, Reg.Rcx, true);
        _asm.Jcc(Cc.E, helper);
        LoadTo(Reg.Rdx, IrOperand.Reg(rt), true);
        _asm.AluImm(Alu.And, Reg.Rdx, 0xFF_FFFF, false); // the INTID, bits [23:0]
        _asm.ShiftImm(Shift.Shl, Reg.Rdx, 8, true);
        _asm.AluImm(Alu.Or, Reg.Rdx, 1, true); // armed
        _asm.Mov(Reg.Rax, Reg.Rdx);
        _asm.AluImm(Alu.Add, Reg.Rdx, 1, true); // completed
        _asm.LockCmpxchg(new Mem(Reg.Rcx, 0), Reg.Rdx, 8);
        _asm.Jcc(Cc.E, after);
        _asm.Bind(helper);
        return after;
    }

    /// <summary>
    /// The routine <see cref="CallExitHelper"/> calls, if it did (after the interpreter's, whose load and leave routines it
    /// shares): rcx = position | retired count &lt;&lt; 16 (stored in Scratch, as for the interpreter), rdx = the descriptor,
    /// rax = the helper's second argument; registers to the context, the helper called with (context, rax, rdx, block
    /// PC), registers back; eax = what it returned. A helper that leaves also leaves the call site's return address and
    /// the block's id in the context (<see cref="NativeContext.ResumeAt"/>): the resume routine, entered from the trampoline
    /// at the block's top level once the run loop has completed the exit, runs the block's entry checks (its words
    /// compared with memory) and loads the registers, and goes on there as after a helper that completed (eax = 0).
    /// </summary>
    private void EmitExitHelperRoutine()
    {
        if (!_exitHelperUsed)
        {
            return;
        }

        _asm.Bind(_exitHelperRoutine);
        _asm.Store(Ctx(ContextOffsets.Scratch), Reg.Rcx, 8);
        _asm.Store(Ctx(ContextOffsets.BudgetLeft), X64Layout.Budget, 8);
        StoreWrittenInline();
        _asm.AluImm(Alu.Sub, Reg.Rsp, 8, true); // the helper is called with rsp 16-byte aligned
        _asm.Mov(Reg.Rdi, X64Layout.Context);
        _asm.Mov(Reg.Rsi, Reg.Rax);
        _asm.MovImm(Reg.Rcx, _b.Pc);
        _asm.CallMem(Ctx(ContextOffsets.Helper(NativeHelper.Exit)));
        _asm.AluImm(Alu.Add, Reg.Rsp, 8, true);
        AsmLabel leaves = _asm.NewLabel(), load = _asm.NewLabel();
        _asm.Test(Reg.Rax, Reg.Rax, false);
        _asm.Jcc(Cc.NE, leaves);
        _asm.Bind(load);
        _asm.Call(_loadRoutine);
        _asm.Ret();

        _asm.Bind(leaves);
        _asm.Load(Reg.Rcx, new Mem(Reg.Rsp, 0), 8);
        _asm.Store(Ctx(ContextOffsets.ResumeAt), Reg.Rcx, 8);
        _asm.StoreImm(Ctx(ContextOffsets.ResumeBlock), _blockId, 4);
        _asm.Jmp(load);

        // The resume: the block's entry checks (exit request, budget, its words unchanged: else the run loop gets
        // EntryCheck or Stale with the resume's ordinal) and registers, then on at the call site.
        _asm.Bind(_exitHelperResume);
        _asm.MovImm(Reg.Rcx, NativeBlock.ResumeOrdinal);
        _asm.Call(_enterRoutine);
        _asm.Alu(Alu.Xor, Reg.Rax, Reg.Rax, false);
        _asm.JmpMem(Ctx(ContextOffsets.ResumeAt));
    }
}

using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Calls of the exit helpers (Arm64Cpu.ExitHelpers.cs) where the interpreter ran the instruction before: a
/// single-register load or store with a valid syndrome whose TLB look-up missed (an MMIO access, or a page not in
/// the TLB yet), and MRS/MSR of the GIC CPU-interface registers in EL1 code. What the instruction does is known
/// here and passed in a descriptor (syndrome or word, and the instruction's offset in the block); the call goes
/// through a shared routine of the block as the interpreter's does (registers stored, reloaded after; the budget
/// and retired count stored for an exact fault), and anything but a plain completion leaves through the shared
/// leave routine.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private AsmLabel _accessRoutine, _controllerRoutine;
    private bool _accessUsed, _controllerUsed;

    /// <summary>Forgets the routines of the last block (at the start of <see cref="Lower"/>).</summary>
    private void ResetExitHelpers() => _accessUsed = _controllerUsed = false;

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
        CallExitHelper(NativeHelper.Access, stub.Insn, stub.Pending, (uint)stub.Target);
        _endUsed[stub.Insn] = true;
        _asm.Jmp(_endLabels[stub.Insn]);
    }

    /// <summary>The word of instruction <see cref="_k"/> when it is an MRS or MSR of a GIC CPU-interface register in EL1 code, else 0.</summary>
    private uint ControllerHelperWord()
    {
        uint word = _b.Words[_k];
        return (_b.Mode & BlockMode.El1) != 0 && _b.Decoded[_k] is A64Op.Mrs or A64Op.MsrReg
            && Arm64Cpu.IsControllerRegister((word >> 5) & 0xFFFF) ? word : 0;
    }

    /// <summary>
    /// Calls <paramref name="helper"/> for instruction <paramref name="k"/> with <paramref name="low"/> in the descriptor's
    /// low half (rax, the guest address of an access, passes through); a non-zero result leaves through the leave routine.
    /// </summary>
    private void CallExitHelper(NativeHelper helper, int k, int pending, uint low)
    {
        _interpretUsed = true; // the load and leave routines
        AsmLabel routine;
        if (helper == NativeHelper.Access)
        {
            routine = _accessUsed ? _accessRoutine : _accessRoutine = _asm.NewLabel();
            _accessUsed = true;
        }
        else
        {
            routine = _controllerUsed ? _controllerRoutine : _controllerRoutine = _asm.NewLabel();
            _controllerUsed = true;
        }

        _asm.MovImm(Reg.Rcx, (ulong)(uint)(k | (pending << 16)));
        _asm.MovImm(Reg.Rdx, low | ((ulong)(4L * _b.Indices[k]) << 32));
        _asm.Call(routine);
        _asm.Test(Reg.Rax, Reg.Rax, false);
        _asm.Jcc(Cc.NE, _leaveRoutine);
    }

    /// <summary>The routines <see cref="CallExitHelper"/> used (after the interpreter's, whose load and leave routines they share).</summary>
    private void EmitExitHelperRoutines()
    {
        if (_accessUsed)
        {
            EmitExitHelperRoutine(_accessRoutine, NativeHelper.Access);
        }

        if (_controllerUsed)
        {
            EmitExitHelperRoutine(_controllerRoutine, NativeHelper.Controller);
        }
    }

    /// <summary>
    /// rcx = position | retired count &lt;&lt; 16 (stored in Scratch, as for the interpreter), rdx = the descriptor, rax =
    /// the helper's second argument: registers to the context, the helper called with (context, rax, rdx, block PC),
    /// registers back; eax = what it returned.
    /// </summary>
    private void EmitExitHelperRoutine(AsmLabel routine, NativeHelper helper)
    {
        _asm.Bind(routine);
        _asm.Store(Ctx(ContextOffsets.Scratch), Reg.Rcx, 8);
        _asm.Store(Ctx(ContextOffsets.BudgetLeft), X64Layout.Budget, 8);
        StoreWrittenInline();
        _asm.AluImm(Alu.Sub, Reg.Rsp, 8, true); // the helper is called with rsp 16-byte aligned
        _asm.Mov(Reg.Rdi, X64Layout.Context);
        _asm.Mov(Reg.Rsi, Reg.Rax);
        _asm.MovImm(Reg.Rcx, _b.Pc);
        _asm.CallMem(Ctx(ContextOffsets.Helper(helper)));
        _asm.AluImm(Alu.Add, Reg.Rsp, 8, true);
        _asm.Call(_loadRoutine);
        _asm.Ret();
    }
}

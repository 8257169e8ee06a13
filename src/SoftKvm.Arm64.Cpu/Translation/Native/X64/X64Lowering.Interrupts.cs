namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// The look after a write of PSTATE.DAIF (<see cref="Ir.IrOpcode.InterruptCheck"/>): native code runs while an
/// interrupt is pending but masked, so a write that unmasks one leaves it right after the instruction
/// (Arm64Cpu.MaskedInterrupts.cs). Inline it is three loads and a test; the rare path is the slow path of a
/// memory access: the instruction once more in the interpreter, whose run-loop check sees the interrupt and
/// leaves with the instruction retired.
/// </summary>
internal sealed unsafe partial class X64Lowering
{
    private void LowerInterruptCheck()
    {
        PrepareClobber();
        AsmLabel slow = AddStub(StubKind.Slow, pending: _pending);
        _asm.Load(Reg.Rax, Ctx(ContextOffsets.Daif), 4);
        _asm.Not(Reg.Rax, false);
        _asm.AluMem(Alu.And, Reg.Rax, Ctx(ContextOffsets.PendingInterrupts), false);
        _asm.Jcc(Cc.NE, slow);
    }
}

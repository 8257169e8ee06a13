using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>C4.1.87 Branches: immediate, conditional, compare/test and branch, register.</summary>
internal sealed partial class A64IrBuilder
{
    private void BranchTo(IrOpcode op, int target, IrOperand a = default, byte cond = 0, long imm = 0, bool w64 = true) =>
        Add(new IrInstruction { Op = op, Target = target, A = a, Cond = cond, Imm = imm, W64 = w64 });

    private bool BranchImmediate(A64Op op)
    {
        if (op == A64Op.Bl)
        {
            Move(IrOperand.Reg(30), IrOperand.Const(_pc + 4));
        }

        BranchTo(IrOpcode.Branch, _index + ((int)(_word << 6) >> 6));
        return true;
    }

    private bool BranchConditional()
    {
        int target = _index + ((int)(_word << 8) >> 13);
        int cond = (int)_word & 0xF;
        BranchTo(cond >= 14 ? IrOpcode.Branch : IrOpcode.BranchCond, target, cond: (byte)cond);
        return true;
    }

    private bool CompareAndBranch(A64Op op)
    {
        int target = _index + ((int)(_word << 8) >> 13);
        BranchTo(op == A64Op.Cbz ? IrOpcode.BranchZero : IrOpcode.BranchNotZero, target, X(Rd), w64: Sf);
        return true;
    }

    private bool TestAndBranch(A64Op op)
    {
        int bit = (int)(((_word >> 31) << 5) | ((_word >> 19) & 31));
        int target = _index + ((int)(_word << 13) >> 18);
        BranchTo(op == A64Op.Tbz ? IrOpcode.BranchBitClear : IrOpcode.BranchBitSet, target, X(Rd), imm: bit, w64: bit >= 32);
        return true;
    }

    private bool BranchRegister(A64Op op)
    {
        IrOperand target = X(Rn);
        if (op == A64Op.Blr)
        {
            Move(T0, target);
            Move(IrOperand.Reg(30), IrOperand.Const(_pc + 4));
            target = T0;
        }

        Add(new IrInstruction { Op = IrOpcode.BranchIndirect, A = target });
        return true;
    }
}

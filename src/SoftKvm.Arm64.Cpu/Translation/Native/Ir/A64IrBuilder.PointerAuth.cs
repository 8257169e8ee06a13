using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// FEAT_PAuth with the IMPDEF algorithm (<see cref="BlockMode.PacImpdef"/>): the hint forms (PACIASP, AUTIASP,
/// PACIAZ, PACIA1716, XPACLRI, ...) and the data-processing forms (PACIA, AUTDB, PACIZA, XPACI, ...) become
/// one <see cref="IrOpcode.Pac"/> each, with the operands and key the interpreter's handlers
/// (PointerAuthentication.cs) use; a key SCTLR_EL1 disables makes the instruction a NOP (PAC*, AUT*), which
/// the code tests as it runs. QARMA5 (<c>pauth=qarma5</c>), PACGA, the combined branches and LDRAA/LDRAB run
/// in the interpreter. FEAT_BTI: BR and BLR carry the BTYPE they set (<see cref="IrInstruction.BtypeByPage"/>
/// for BR through a register other than X16, X17, which depends on the guarded bit of the branch's page).
/// </summary>
internal sealed partial class A64IrBuilder
{
    /// <summary>PACIASP, AUTIBZ, PACIA1716, XPACLRI, ...: hint space, X30 (or X17 with modifier X16).</summary>
    private bool PacHint()
    {
        if ((_block.Mode & BlockMode.Pauth) == 0)
        {
            return true; // NOPs without FEAT_PAuth
        }

        if ((_block.Mode & BlockMode.PacImpdef) == 0)
        {
            return false;
        }

        int hint = (int)(_word >> 5) & 0x7F;
        if (hint == 7)
        {
            return Pac(PacOperation.Strip, 0, IrOperand.Reg(30), IrOperand.Reg(30), IrOperand.None);
        }

        bool x1716 = hint < 16;
        IrOperand reg = IrOperand.Reg(x1716 ? 17 : 30);
        IrOperand modifier = x1716 ? IrOperand.Reg(16) : (hint & 1) != 0 ? XOrSp(31) : IrOperand.Const(0);
        int key = (hint & 2) != 0 ? 1 : 0;
        return Pac((hint & 4) != 0 ? PacOperation.Auth : PacOperation.Add, key, reg, reg, modifier);
    }

    /// <summary>PACIA ... AUTDB (modifier Xn|SP), their Z forms (Rn = 31, modifier 0), XPACI, XPACD (Rn = 31).</summary>
    private bool PacDataProcessing()
    {
        int opcode = (int)(_word >> 10) & 0x3F;
        if ((_block.Mode & BlockMode.PacImpdef) == 0 || opcode > 0x11 || (opcode >= 8 && Rn != 31))
        {
            return false; // QARMA5, or UNDEFINED: the handler's
        }

        if (opcode >= 0x10)
        {
            return Pac(PacOperation.Strip, opcode == 0x11 ? 2 : 0, DstX(Rd), X(Rd), IrOperand.None);
        }

        IrOperand modifier = opcode >= 8 ? IrOperand.Const(0) : XOrSp(Rn);
        return Pac((opcode & 4) == 0 ? PacOperation.Add : PacOperation.Auth, opcode & 3, DstX(Rd), X(Rd), modifier);
    }

    /// <summary>Dst = <paramref name="operation"/> of pointer <paramref name="ptr"/> with key <paramref name="key"/>; a disabled key leaves it unchanged (the code tests SCTLR_EL1).</summary>
    private bool Pac(PacOperation operation, int key, IrOperand dst, IrOperand ptr, IrOperand modifier)
    {
        Add(new IrInstruction { Op = IrOpcode.Pac, Dst = dst, A = ptr, B = modifier, Imm = ((int)operation << 2) | key, W64 = true });
        return true;
    }

    /// <summary>BR, BLR on a BTI model: as without it, the branch carrying its BTYPE (BLR 10; BR 01, or 11 from a guarded page unless X16/X17).</summary>
    private bool BranchRegisterBti(A64Op op)
    {
        BranchRegister(op);
        _block.Ops[_block.Count - 1].Imm = op == A64Op.Blr ? 2 : Rn is 16 or 17 ? 1 : IrInstruction.BtypeByPage;
        return true;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// The system instructions that run often enough to matter, where their effect is plain: MRS and MSR of
/// registers that are only a field of the state (SP_EL0, TPIDR_EL1, TPIDR_EL0, DAIF and DAIFSet/DAIFClr,
/// ELR_EL1, reads of SPSR_EL1, ESR_EL1 and FAR_EL1, the pointer authentication keys) or a constant
/// (CTR_EL0, DCZID_EL0, CurrentEL) at EL1 (TPIDR_EL0 at EL0 too); DC ZVA; the cache maintenance by VA
/// (only its translation can fault: a TLB probe); barriers. Everything else, and every form whose access
/// rules depend on state the block was not compiled for, goes to the interpreter.
/// </summary>
internal sealed partial class A64IrBuilder
{
    private bool El1 => (_block.Mode & BlockMode.El1) != 0;

    private uint SysRegKey => (_word >> 5) & 0xFFFF;

    private bool SystemRegisterRead()
    {
        IrOperand dst = DstX(Rd);
        switch (SysRegKey)
        {
            case SysReg.SpEl0 when El1 && (_block.Mode & BlockMode.SpEl1) != 0:
                ReadState(dst, ContextOffsets.SpEl0, 8);
                return true;
            case SysReg.TpidrEl1 when El1:
                ReadState(dst, ContextOffsets.TpidrEl1, 8);
                return true;
            case SysReg.TpidrEl0:
                ReadState(dst, ContextOffsets.TpidrEl0, 8);
                return true;
            case SysReg.TpidrroEl0:
                ReadState(dst, ContextOffsets.TpidrroEl0, 8);
                return true;
            case SysReg.Daif when El1:
                ReadState(dst, ContextOffsets.Daif, 4);
                return true;
            case SysReg.ElrEl1 or SysReg.SpsrEl1 or SysReg.EsrEl1 or SysReg.FarEl1 when El1:
                ReadState(dst, ExceptionRegisterOffset(SysRegKey), 8);
                return true;
            case SysReg.CtrEl0 when El1:
                Move(dst, IrOperand.Const(SysReg.CtrValue));
                return true;
            case SysReg.DczidEl0 when El1:
                Move(dst, IrOperand.Const(4)); // 64-byte blocks, DC ZVA allowed at EL1
                return true;
            case SysReg.CurrentEl when El1:
                Move(dst, IrOperand.Const(1 << 2));
                return true;
            case var key when PacKeyOffset(key) is var keyOffset and >= 0:
                ReadState(dst, keyOffset, 8);
                return true;
            default:
                return false;
        }
    }

    private bool SystemRegisterWrite()
    {
        IrOperand value = X(Rd);
        switch (SysRegKey)
        {
            case SysReg.SpEl0 when El1 && (_block.Mode & BlockMode.SpEl1) != 0:
                WriteState(value, ContextOffsets.SpEl0);
                return true;
            case SysReg.TpidrEl1 when El1:
                WriteState(value, ContextOffsets.TpidrEl1);
                return true;
            case SysReg.TpidrEl0:
                WriteState(value, ContextOffsets.TpidrEl0);
                return true;
            case SysReg.ElrEl1 when El1:
                WriteState(value, ContextOffsets.ElrEl1);
                return true;
            case var key when PacKeyOffset(key) is var keyOffset and >= 0:
                WriteState(value, keyOffset); // read by the PAC code as it runs: nothing compiled depends on it
                return true;
            case SysReg.Daif when El1:
                // A field, and a look at the pending interrupts it may unmask (Arm64Cpu.MaskedInterrupts.cs).
                Emit(IrOpcode.And, T0, value, IrOperand.Const(Psr.DaifMask), w64: false);
                WriteState(T0, ContextOffsets.Daif, 4);
                Add(new IrInstruction { Op = IrOpcode.InterruptCheck });
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The context offset of pointer authentication key register <paramref name="key"/> (APIAKeyLo_EL1 .. APGAKeyHi_EL1:
    /// op0=3, op1=0, CRn=2, CRm=1..3, op2=0..3, CRm=3 only op2 0..1) at EL1 on a model with FEAT_PAuth, else -1 (the
    /// interpreter's: UNDEFINED without the feature, trapped or UNDEFINED at EL0). Linux writes the keys of the task it
    /// switches to and of every entry from and return to EL0.
    /// </summary>
    private int PacKeyOffset(uint key)
    {
        if (!El1 || (_block.Mode & BlockMode.Pauth) == 0 || (key >> 7) != ((3 << 7) | 2))
        {
            return -1;
        }

        int crm = (int)(key >> 3) & 15, op2 = (int)key & 7;
        return crm is >= 1 and <= 3 && op2 < (crm == 3 ? 2 : 4) ? ContextOffsets.PacKeys + (8 * (((crm - 1) * 4) + op2)) : -1;
    }

    /// <summary>The context offset of ELR_EL1, SPSR_EL1, ESR_EL1 or FAR_EL1 (fields MRS reads as they are).</summary>
    private static int ExceptionRegisterOffset(uint key) => key switch
    {
        SysReg.ElrEl1 => ContextOffsets.ElrEl1,
        SysReg.SpsrEl1 => ContextOffsets.SpsrEl1,
        SysReg.EsrEl1 => ContextOffsets.EsrEl1,
        _ => ContextOffsets.FarEl1,
    };

    private void ReadState(IrOperand dst, int offset, int size) =>
        Add(new IrInstruction { Op = IrOpcode.ReadState, Dst = dst, Imm = offset, Size = (byte)size, W64 = size == 8 });

    private void WriteState(IrOperand value, int offset, int size = 8) =>
        Add(new IrInstruction { Op = IrOpcode.WriteState, A = value, Imm = offset, Size = (byte)size, W64 = true });

    /// <summary>MSR DAIFSet, DAIFClr at EL1 (as the MSR of DAIF above); the other PSTATE fields go to the interpreter.</summary>
    private bool PstateImmediate()
    {
        uint op1 = (_word >> 16) & 7, op2 = (_word >> 5) & 7, crm = (_word >> 8) & 15;
        if (!El1 || op1 != 3 || op2 is not (6 or 7))
        {
            return false;
        }

        ReadState(T0, ContextOffsets.Daif, 4);
        if (op2 == 6)
        {
            Emit(IrOpcode.Or, T0, T0, IrOperand.Const(crm << 6), w64: false);
        }
        else
        {
            Emit(IrOpcode.And, T0, T0, IrOperand.Const(~(crm << 6)), w64: false);
        }

        WriteState(T0, ContextOffsets.Daif, 4);
        if (op2 == 7 && (crm & 3) != 0)
        {
            Add(new IrInstruction { Op = IrOpcode.InterruptCheck }); // I or F cleared: a pending interrupt may be takeable now
        }

        return true;
    }

    /// <summary>SYS at EL1: DC ZVA (with the MMU on), IC IVAU/IALLU(IS) (nothing to do: the caches are not modelled), DC CVAC/CVAU/CIVAC.</summary>
    private bool SystemInstruction()
    {
        if (!El1)
        {
            return false;
        }

        uint op1 = (_word >> 16) & 7, crn = (_word >> 12) & 15, crm = (_word >> 8) & 15, op2 = (_word >> 5) & 7;
        if (crn != 7)
        {
            return false;
        }

        switch ((op1 << 7) | (crm << 3) | op2)
        {
            case (3 << 7) | (4 << 3) | 1 when (_block.Mode & BlockMode.Unaligned) != 0: // DC ZVA, MMU on
                Add(new IrInstruction { Op = IrOpcode.ZeroBlock, A = X(Rd) });
                return true;
            case (0 << 7) | (1 << 3) | 0: // IC IALLUIS
            case (0 << 7) | (5 << 3) | 0: // IC IALLU
            case (3 << 7) | (5 << 3) | 1: // IC IVAU
                Add(new IrInstruction { Op = IrOpcode.Nop });
                return true;
            case (3 << 7) | (10 << 3) | 1: // DC CVAC
            case (3 << 7) | (11 << 3) | 1: // DC CVAU
            case (3 << 7) | (14 << 3) | 1: // DC CIVAC
                // Only the translation can fault: a read-TLB hit means it succeeds; a miss runs the handler.
                Add(new IrInstruction { Op = IrOpcode.Load, A = X(Rd), Size = 1 });
                return true;
            default:
                return false;
        }
    }

    /// <summary>DMB, DSB: x86 orders everything but a store before a later load, so only the full forms need a fence.</summary>
    private bool Barrier()
    {
        uint type = (_word >> 8) & 3; // CRm<1:0>: 01 loads, 10 stores, 11 or 00 all
        Add(new IrInstruction { Op = type is 1 or 2 ? IrOpcode.Nop : IrOpcode.Fence });
        return true;
    }
}

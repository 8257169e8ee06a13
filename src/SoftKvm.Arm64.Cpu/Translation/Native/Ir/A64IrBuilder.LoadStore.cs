using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// C4.1.88 Loads and stores of general registers (register, pair and literal forms, LDAR and STLR).
/// FP/SIMD registers, exclusives and the other acquire/release forms go to the interpreter. A native
/// access takes the software-TLB fast
/// path; anything else (a miss, MMIO, a fault, a page-crossing or misaligned access) runs the whole
/// instruction in the interpreter, so the syndromes and the order of effects are the interpreter's.
/// </summary>
internal sealed partial class A64IrBuilder
{
    private static long SignExtend(ulong value, int bits) => (long)(value << (64 - bits)) >> (64 - bits);

    /// <summary>
    /// LDAR, STLR: an access that is always alignment checked. On the x86-64 host (TSO) a load already has
    /// acquire and a store release semantics; a fence after STLR keeps it before a later LDAR (RCsc), as
    /// the interpreter's barriers do.
    /// </summary>
    private bool LoadStoreOrdered(A64Op op)
    {
        int size = (int)(_word >> 30);
        int rt = Rd, rn = Rn;
        bool load = op == A64Op.Ldar;
        var access = new IrInstruction
        {
            Op = load ? IrOpcode.Load : IrOpcode.Store,
            A = XOrSp(rn),
            SpBase = rn == 31,
            Size = (byte)(1 << size),
            W64 = size == 3,
            Aligned = true,
        };
        if (load)
        {
            access.Dst = DstX(rt);
        }
        else
        {
            access.C = X(rt);
        }

        Add(access);
        if (!load)
        {
            Add(new IrInstruction { Op = IrOpcode.Fence });
        }

        return true;
    }

    private bool LoadStoreRegister(A64Op op)
    {
        int size = (int)(_word >> 30);
        bool simd = ((_word >> 26) & 1) != 0;
        uint opc = (_word >> 22) & 3;
        int rt = Rd, rn = Rn;
        if (simd)
        {
            return false;
        }

        bool load, signExtend = false, sixtyFour = false;
        switch (opc)
        {
            case 0:
                load = false;
                sixtyFour = size == 3;
                break;
            case 1:
                load = true;
                sixtyFour = size == 3;
                break;
            case 2:
                if (size == 3)
                {
                    // PRFM: a hint (no access, no SP alignment check), but its reserved forms are UNDEFINED.
                    return op is not (A64Op.LdStPost or A64Op.LdStPre or A64Op.LdStUnpriv)
                        && (op != A64Op.LdStRegOffset || ((_word >> 13) & 2) != 0);
                }

                load = true;
                signExtend = true;
                sixtyFour = true;
                break;
            default:
                if (size >= 2)
                {
                    return false;
                }

                load = true;
                signExtend = true;
                break;
        }

        var access = new IrInstruction
        {
            Op = load ? IrOpcode.Load : IrOpcode.Store,
            A = XOrSp(rn),
            SpBase = rn == 31,
            Size = (byte)(1 << size),
            Signed = signExtend,
            W64 = sixtyFour,
        };
        long writeback = 0;
        bool post = false;
        switch (op)
        {
            case A64Op.LdStUnsignedOffset:
                access.Imm = (long)(((_word >> 10) & 0xFFF) << size);
                break;
            case A64Op.LdStRegOffset:
                uint option = (_word >> 13) & 7;
                if ((option & 2) == 0)
                {
                    return false;
                }

                access.Shift = (byte)(((_word >> 12) & 1) != 0 ? size : 0);
                access.B = X(Rm);
                if ((option & 1) == 0)
                {
                    // UXTW, SXTW: the index is a W register, extended.
                    Add(new IrInstruction { Op = option >= 4 ? IrOpcode.SignExtend : IrOpcode.ZeroExtend, Dst = T0, A = X(Rm), Size = 32, W64 = true });
                    access.B = T0;
                }

                break;
            default:
                long offset = SignExtend((_word >> 12) & 0x1FF, 9);
                if (op is A64Op.LdStPost or A64Op.LdStPre)
                {
                    writeback = offset;
                    post = op == A64Op.LdStPost;
                }

                access.Imm = post ? 0 : offset;
                access.Unprivileged = op == A64Op.LdStUnpriv && (_block.Mode & (BlockMode.El1 | BlockMode.Uao)) == BlockMode.El1;
                break;
        }

        bool writes = op is A64Op.LdStPost or A64Op.LdStPre;
        if (load)
        {
            access.Dst = DstX(rt);
        }
        else
        {
            access.C = X(rt);
        }

        if (writes && load && rt == rn && rn != 31)
        {
            // The loaded value goes to Rt, then the written-back address to Rn (the interpreter's order, for
            // this CONSTRAINED UNPREDICTABLE form): the new address is computed before the load changes Rn.
            Emit(IrOpcode.Add, T1, XOrSp(rn), IrOperand.Const(writeback), true);
            Add(access);
            Move(XOrSp(rn), T1);
            return true;
        }

        Add(access);
        if (writes)
        {
            Emit(IrOpcode.Add, XOrSp(rn), XOrSp(rn), IrOperand.Const(writeback), true);
        }

        return true;
    }

    private bool LoadStorePair(A64Op op)
    {
        uint opc = _word >> 30;
        bool simd = ((_word >> 26) & 1) != 0, load = ((_word >> 22) & 1) != 0;
        int rt = Rd, rt2 = (int)(_word >> 10) & 31, rn = Rn;
        if (simd || opc == 3 || (opc == 1 && (!load || op == A64Op.LdStPairNoAlloc)))
        {
            return false;
        }

        int sizeLog2 = opc == 2 ? 3 : 2;
        bool signExtend = opc == 1;
        long offset = SignExtend((_word >> 15) & 0x7F, 7) << sizeLog2;
        bool writeback = op is A64Op.LdStPairPost or A64Op.LdStPairPre, post = op == A64Op.LdStPairPost;
        if (writeback && load && (rt == rn || rt2 == rn) && rn != 31)
        {
            return false; // CONSTRAINED UNPREDICTABLE: the interpreter's choice
        }

        var access = new IrInstruction
        {
            Op = load ? IrOpcode.Load : IrOpcode.Store,
            Pair = true,
            A = XOrSp(rn),
            SpBase = rn == 31,
            Imm = post ? 0 : offset,
            Size = (byte)(1 << sizeLog2),
            Signed = signExtend,
            W64 = sizeLog2 == 3 || signExtend,
        };
        if (load)
        {
            access.Dst = DstX(rt);
            access.C = DstX(rt2);
        }
        else
        {
            access.C = X(rt);
            access.D = X(rt2);
        }

        Add(access);
        if (writeback)
        {
            Emit(IrOpcode.Add, XOrSp(rn), XOrSp(rn), IrOperand.Const(offset), true);
        }

        return true;
    }

    private bool LoadLiteral(A64Op op)
    {
        if (op == A64Op.PrfmLit)
        {
            return true;
        }

        ulong address = _pc + ((ulong)SignExtend((_word >> 5) & 0x7FFFF, 19) << 2);
        bool wide = op == A64Op.LdrswLit || ((_word >> 30) & 1) != 0;
        int sizeLog2 = op == A64Op.LdrLit && wide ? 3 : 2;
        Add(new IrInstruction
        {
            Op = IrOpcode.Load,
            Dst = DstX(Rd),
            A = IrOperand.Const(address),
            Size = (byte)(1 << sizeLog2),
            Signed = op == A64Op.LdrswLit,
            W64 = wide,
        });
        return true;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// FEAT_LSE on a model with it (<see cref="BlockMode.Lse"/>): LDADD, LDCLR, LDEOR, LDSET and SWP (the ST
/// aliases too, Rt = XZR) and CAS, each size, each acquire/release form, become one <see cref="IrOpcode.Atomic"/>
/// with the interpreter's operands (LoadStoreAtomic.cs), as does CASP of two doublewords (Linux's cmpxchg_double);
/// LDSMAX, LDSMIN, LDUMAX, LDUMIN, CASP of two words and LDAPR run in the interpreter.
/// </summary>
internal sealed partial class A64IrBuilder
{
    private int SizeLog2 => (int)(_word >> 30);

    private bool AtomicMemory()
    {
        uint opc = (_word >> 12) & 7;
        bool o3 = ((_word >> 15) & 1) != 0;
        if ((_block.Mode & BlockMode.Lse) == 0 || (o3 && opc != 0) || (!o3 && opc > 3))
        {
            return false;
        }

        Atomic(o3 ? AtomicSwap : opc, DstX(Rd), X(Rm), IrOperand.None);
        return true;
    }

    private bool CompareAndSwap()
    {
        if ((_block.Mode & BlockMode.Lse) == 0)
        {
            return false;
        }

        Atomic(AtomicCompareAndSwap, DstX(Rm), X(Rm), X(Rd));
        return true;
    }

    /// <summary>
    /// CASP Xs, Xs+1, Xt, Xt+1, [Xn|SP] (each acquire/release form): B = Xs, C = Xs+1 (both read, then written with the old
    /// pair: Dst and C), D = Xt, Imm = the number of Xt+1 (31: XZR). An odd Rs or Rt (UNDEFINED) and the pair of words
    /// go to the interpreter.
    /// </summary>
    private bool CompareAndSwapPair()
    {
        int rs = Rm, rt = Rd;
        if ((_block.Mode & BlockMode.Lse) == 0 || ((_word >> 30) & 1) == 0 || (rs & 1) != 0 || (rt & 1) != 0)
        {
            return false;
        }

        Add(new IrInstruction
        {
            Op = IrOpcode.Atomic, Cond = AtomicCompareAndSwapPair, Dst = DstX(rs), A = XOrSp(Rn), B = X(rs), C = DstX(rs + 1), D = X(rt),
            Imm = rt + 1, Size = 16, SpBase = Rn == 31, W64 = true,
        });
        return true;
    }

    /// <summary>The <see cref="IrInstruction.Cond"/> of an <see cref="IrOpcode.Atomic"/> SWP.</summary>
    internal const int AtomicSwap = 8;

    /// <summary>The <see cref="IrInstruction.Cond"/> of an <see cref="IrOpcode.Atomic"/> CAS.</summary>
    internal const int AtomicCompareAndSwap = 9;

    /// <summary>The <see cref="IrInstruction.Cond"/> of an <see cref="IrOpcode.Atomic"/> CASP of two doublewords.</summary>
    internal const int AtomicCompareAndSwapPair = 10;

    private void Atomic(uint kind, IrOperand dst, IrOperand b, IrOperand c) => Add(new IrInstruction
    {
        Op = IrOpcode.Atomic, Dst = dst, A = XOrSp(Rn), B = b, C = c, Size = (byte)(1 << SizeLog2), Cond = (byte)kind, SpBase = Rn == 31, W64 = true,
    });
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// FEAT_LSE on a model with it (<see cref="BlockMode.Lse"/>): LDADD, LDCLR, LDEOR, LDSET and SWP (the ST
/// aliases too, Rt = XZR) and CAS, each size, each acquire/release form, become one <see cref="IrOpcode.Atomic"/>
/// with the interpreter's operands (LoadStoreAtomic.cs); LDSMAX, LDSMIN, LDUMAX, LDUMIN, CASP and LDAPR run in
/// the interpreter.
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

    /// <summary>The <see cref="IrInstruction.Cond"/> of an <see cref="IrOpcode.Atomic"/> SWP.</summary>
    internal const int AtomicSwap = 8;

    /// <summary>The <see cref="IrInstruction.Cond"/> of an <see cref="IrOpcode.Atomic"/> CAS.</summary>
    internal const int AtomicCompareAndSwap = 9;

    private void Atomic(uint kind, IrOperand dst, IrOperand b, IrOperand c) => Add(new IrInstruction
    {
        Op = IrOpcode.Atomic, Dst = dst, A = XOrSp(Rn), B = b, C = c, Size = (byte)(1 << SizeLog2), Cond = (byte)kind, SpBase = Rn == 31, W64 = true,
    });
}

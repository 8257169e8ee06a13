using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// Load and store exclusive with the interpreter's monitor (<c>LoadStoreExclusive.cs</c>, which native code
/// shares through the context): LDXR, LDAXR, STXR and STLXR of every size, the pairs of 32-bit words
/// (LDXP, LDAXP, STXP, STLXP: one 64-bit access) and CLREX. Each is one <see cref="IrOpcode.Load"/> or
/// <see cref="IrOpcode.Store"/> marked <see cref="IrInstruction.Exclusive"/> and aligned to its whole
/// size, whose slow path (a TLB miss, a misaligned address: the alignment fault) is the interpreter's
/// handler. The pairs of doublewords stay with the interpreter: their 128-bit compare and write is done
/// under the VM-wide pair lock, which native code does not take.
/// <para>
/// Ordering: an x86 load is already an acquire (LDAXR needs no fence) and the store's <c>lock cmpxchg</c>
/// is a full barrier (STLXR's release). As in the interpreter, the register operands are read before the
/// status register is written, whatever registers coincide (CONSTRAINED UNPREDICTABLE forms).
/// </para>
/// </summary>
internal sealed partial class A64IrBuilder
{
    private bool LoadStoreExclusive(A64Op op)
    {
        int size = (int)(_word >> 30);
        bool load = op is A64Op.Ldxr or A64Op.Ldaxr;
        var access = new IrInstruction
        {
            Op = load ? IrOpcode.Load : IrOpcode.Store,
            Exclusive = true,
            A = XOrSp(Rn),
            SpBase = Rn == 31,
            Size = (byte)(1 << size),
            W64 = size == 3,
            Aligned = true,
        };
        if (load)
        {
            access.Dst = DstX(Rd);
        }
        else
        {
            access.C = X(Rd);
            access.Dst = DstX(Rm); // Ws, the status
        }

        Add(access);
        return true;
    }

    private bool LoadStoreExclusivePair(A64Op op)
    {
        if (((_word >> 30) & 1) != 0)
        {
            return false; // two doublewords: the interpreter, under the pair lock
        }

        bool load = op is A64Op.Ldxp or A64Op.Ldaxp;
        int rt2 = (int)(_word >> 10) & 31;
        var access = new IrInstruction
        {
            Op = load ? IrOpcode.Load : IrOpcode.Store,
            Exclusive = true,
            Pair = true,
            A = XOrSp(Rn),
            SpBase = Rn == 31,
            Size = 4,
            Aligned = true,
        };
        if (load)
        {
            access.Dst = DstX(Rd);
            access.C = DstX(rt2);
        }
        else
        {
            access.C = X(Rd);
            access.D = X(rt2);
            access.Dst = DstX(Rm);
        }

        Add(access);
        return true;
    }

    /// <summary>CLREX: the monitor's address cleared (its other fields only matter while it is set).</summary>
    private bool ClearExclusive()
    {
        WriteState(IrOperand.Const(0), ContextOffsets.ExclusiveHost);
        return true;
    }
}

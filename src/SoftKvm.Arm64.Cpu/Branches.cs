using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>C4.1.87 Branches: conditional, unconditional immediate and register, compare/test and branch.</summary>
public sealed partial class Arm64Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.BCond)]
    private Flow BranchConditional(uint insn)
    {
        if (!ConditionHolds((int)insn & 0xF))
        {
            return Flow.Next;
        }

        long offset = (long)((int)(insn << 8) >> 13) << 2;
        State.Pc += (ulong)offset;
        return Flow.Jump;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.B, A64Op.Bl)]
    private Flow BranchImmediate(uint insn, A64Op op)
    {
        long offset = (long)((int)(insn << 6) >> 6) << 2;
        if (op == A64Op.Bl)
        {
            State.X[30] = State.Pc + 4;
        }

        State.Pc += (ulong)offset;
        return Flow.Jump;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Br, A64Op.Blr, A64Op.Ret)]
    private Flow BranchRegister(uint insn, A64Op op)
    {
        int rn = (int)(insn >> 5) & 31;
        ulong target = X(rn);
        if (op == A64Op.Blr)
        {
            State.X[30] = State.Pc + 4;
        }

        if (Has(CpuFeatures.Bti))
        {
            SetBtype(op switch { A64Op.Br => BtypeOfBr(rn), A64Op.Blr => 2u, _ => 0u });
        }

        State.Pc = target;
        return Flow.Jump;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Cbz, A64Op.Cbnz)]
    private Flow CompareAndBranch(uint insn, A64Op op)
    {
        bool sf = (insn >> 31) != 0;
        ulong value = X((int)insn & 31);
        if (!sf)
        {
            value = (uint)value;
        }

        if ((value == 0) != (op == A64Op.Cbz))
        {
            return Flow.Next;
        }

        long offset = (long)((int)(insn << 8) >> 13) << 2;
        State.Pc += (ulong)offset;
        return Flow.Jump;
    }

    // Inlined into the op's dispatch method (OpDispatch), which then is the handler itself.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [A64Handler(A64Op.Tbz, A64Op.Tbnz)]
    private Flow TestAndBranch(uint insn, A64Op op)
    {
        int bit = (int)(((insn >> 31) << 5) | ((insn >> 19) & 31));
        bool set = ((X((int)insn & 31) >> bit) & 1) != 0;
        if (set != (op == A64Op.Tbnz))
        {
            return Flow.Next;
        }

        long offset = (long)((int)(insn << 13) >> 18) << 2;
        State.Pc += (ulong)offset;
        return Flow.Jump;
    }
}

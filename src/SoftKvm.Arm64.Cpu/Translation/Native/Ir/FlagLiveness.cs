namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// NZCV liveness and dead-flag elimination. Flags are live wherever a later operation may read them: a
/// conditional operation, a carry-in, any exit of the block (the next block may read them; a backward
/// branch counts, since its exit-request and budget check may leave there), and every
/// operation that may run the interpreter or take an exception (loads, stores, fallbacks), because an
/// exception saves NZCV in SPSR_EL1 and must see the interpreter's value. A flag-setting operation
/// whose result is not live computes only its value (CMP, CMN, TST disappear); the liveness is kept
/// (<see cref="IrBlock.FlagsLiveIn"/>) so the code generator knows where the flags must be kept.
/// </summary>
internal static class FlagLiveness
{
    /// <summary>Computes the liveness of <paramref name="block"/> and drops the dead flag computations.</summary>
    public static void Run(IrBlock block)
    {
        int n = block.Count;
        bool[] liveIn = block.PrepareFlagsLiveIn();
        IrInstruction[] ops = block.Ops;
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int i = n - 1; i >= 0; i--)
            {
                bool live = Uses(ops[i]) || (!Defines(ops[i]) && LiveOut(block, i, liveIn));
                if (live != liveIn[i])
                {
                    liveIn[i] = live;
                    changed = true;
                }
            }
        }

        for (int i = 0; i < n; i++)
        {
            ref IrInstruction op = ref ops[i];
            if (op.Flags == IrFlags.None || LiveOut(block, i, liveIn))
            {
                continue;
            }

            if (op.Op == IrOpcode.CondCompare)
            {
                op.Op = IrOpcode.Nop;
                continue;
            }

            op.Flags = IrFlags.None;
            if (op.Dst.Kind == IrKind.None)
            {
                op.Op = IrOpcode.Nop;
            }
        }
    }

    /// <summary>Whether the flags are live after operation <paramref name="i"/>.</summary>
    public static bool LiveOut(IrBlock block, int i, bool[] liveIn)
    {
        ref IrInstruction op = ref block.Ops[i];
        if (op.Op is IrOpcode.BranchIndirect or IrOpcode.Reenter)
        {
            return true;
        }

        bool target = false;
        if (op.Op == IrOpcode.Branch || op.Op.IsConditionalBranch())
        {
            // Out of the block, or backward (where the exit-request and budget check may leave): live.
            int k = block.PositionOf(op.Target);
            target = k < 0 || op.Target <= block.Indices[op.Insn] || liveIn[block.FirstOp[k]];
            if (op.Op == IrOpcode.Branch)
            {
                return target;
            }
        }

        return target || liveIn[i + 1];
    }

    /// <summary>Whether <paramref name="op"/> reads NZCV (or may need it saved: it may leave the block).</summary>
    internal static bool Uses(in IrInstruction op) => op.Op switch
    {
        IrOpcode.BranchCond or IrOpcode.Select or IrOpcode.CondCompare or IrOpcode.Adc or IrOpcode.Sbc => true,
        IrOpcode.Load or IrOpcode.Store or IrOpcode.Atomic or IrOpcode.ZeroBlock or IrOpcode.Fallback or IrOpcode.InterruptCheck => true,
        IrOpcode.BranchIndirect or IrOpcode.Reenter => true,
        _ => false,
    };

    /// <summary>Whether <paramref name="op"/> sets NZCV.</summary>
    internal static bool Defines(in IrInstruction op) => op.Flags != IrFlags.None;
}

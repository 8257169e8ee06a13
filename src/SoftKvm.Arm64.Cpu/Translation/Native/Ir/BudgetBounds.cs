namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>
/// How many instructions a block may retire between two budget checks. The checks are at the block's
/// entries and on its backward branches (every cycle in a block has one: its code is in address order);
/// each check lets the code run on only while the budget left is at least the most instructions any path
/// from there retires before the next check or the block's end, so native code never retires more than
/// its budget however the checks fall, and hands the run loop back a remainder smaller than that bound
/// (which the interpreter then runs exactly), not one as large as the largest block.
/// </summary>
internal static class BudgetBounds
{
    /// <summary>
    /// Fills <paramref name="bound"/> (one per instruction of <paramref name="block"/>) with the most
    /// instructions retired from that instruction, itself included, before control leaves the block or
    /// takes a backward branch.
    /// </summary>
    public static void Compute(IrBlock block, Span<int> bound)
    {
        int n = block.Indices.Length;
        IrInstruction[] ops = block.Ops;
        for (int k = n - 1; k >= 0; k--)
        {
            int most = 0;
            bool fallsThrough = true;
            for (int i = block.FirstOp[k]; i < block.FirstOp[k + 1]; i++)
            {
                ref IrInstruction op = ref ops[i];
                if (op.Op == IrOpcode.Branch || op.Op.IsConditionalBranch())
                {
                    int t = block.PositionOf(op.Target);
                    if (t > k)
                    {
                        most = Math.Max(most, bound[t]); // forward inside the block (backward ones go through a check)
                    }
                }

                fallsThrough = !op.Op.IsUnconditionalTransfer();
            }

            if (fallsThrough && k + 1 < n)
            {
                most = Math.Max(most, bound[k + 1]);
            }

            bound[k] = 1 + most;
        }
    }
}

using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Translation.Native.X64;

/// <summary>
/// Guest registers held in host registers across a whole block: a fixed mapping per block, chosen by
/// how often each register is read or written (a use inside a loop of the block counts eight times),
/// for the registers used at least twice, up to <see cref="X64Layout.GuestRegisters"/>. A mapped
/// register is loaded once at each entry and stored at each exit and before each helper call (only if
/// the block writes it), so inside the block a guest register access is a host register access; the
/// rest are memory operands on the context.
/// </summary>
internal static class GuestRegisterAllocation
{
    /// <summary>Register slots: X0-X30 and SP (31).</summary>
    public const int GuestSlots = 32;

    /// <summary>
    /// Chooses the mapping of <paramref name="block"/>: host register per guest register (or
    /// <see cref="Reg.None"/>) into <paramref name="hostOf"/>, and the mask of guest registers it writes.
    /// </summary>
    public static ulong Allocate(IrBlock block, Reg[] hostOf)
    {
        IrInstruction[] ops = block.Ops;
        int n = block.Count;

        // Loop depth by operation: +1 from a backward branch's target to the branch.
        Span<int> depthChange = stackalloc int[n + 1];
        for (int i = 0; i < n; i++)
        {
            if (ops[i].Op == IrOpcode.Branch || ops[i].Op.IsConditionalBranch())
            {
                int k = block.PositionOf(ops[i].Target);
                if (k >= 0 && block.FirstOp[k] <= i)
                {
                    depthChange[block.FirstOp[k]]++;
                    depthChange[i + 1]--;
                }
            }
        }

        Span<int> uses = stackalloc int[GuestSlots];
        ulong written = 0;
        int depth = 0;
        for (int i = 0; i < n; i++)
        {
            depth += depthChange[i];
            int w = 1 << (3 * Math.Min(depth, 3)); // 8 per loop level: the innermost loop's registers first
            ref IrInstruction op = ref ops[i];
            Count(op.A, w, uses);
            Count(op.B, w, uses);
            Count(op.C, w, uses);
            Count(op.D, w, uses);
            Count(op.Dst, w, uses);
            written |= Mask(op.Dst);
            if (op.WritesC)
            {
                written |= Mask(op.C); // the second register of a pair
            }
        }

        Array.Fill(hostOf, Reg.None);
        ReadOnlySpan<Reg> pool = X64Layout.GuestRegisters;
        for (int next = 0; next < pool.Length; next++)
        {
            int best = -1, most = 1; // a register used once is better as a memory operand
            for (int r = 0; r < GuestSlots; r++)
            {
                if (uses[r] > most)
                {
                    best = r;
                    most = uses[r];
                }
            }

            if (best < 0)
            {
                break;
            }

            hostOf[best] = pool[next];
            uses[best] = 0;
        }

        return written;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Count(IrOperand o, int weight, Span<int> uses)
    {
        if (o.Kind == IrKind.Reg)
        {
            uses[o.Index] += weight;
        }
    }

    private static ulong Mask(IrOperand o) => o.Kind == IrKind.Reg ? 1UL << o.Index : 0;
}

using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu.Tests.Native;

/// <summary>
/// The budget: native code retires exactly as many instructions as the interpreter for every budget,
/// with its checks bounded by the longest run to the next check (entries and backward branches) (<see cref="BudgetBounds"/>), not by the
/// largest block.
/// </summary>
public sealed class NativeBudgetTests
{
    // x0 = 0; x1 = RAM + 0x8000
    // outer: x2 = 5
    // inner: x3 = [x1 + x2 * 8]; x0 += x3; x2 -= 1 (flags); b.ne inner
    //        x1 += 8; x4 = x0 + x1 (flags); ccmp; csel; b.lo outer; x0 ^= x5; b outer
    private static readonly uint[] NestedLoops =
    [
        0xd2800000, 0xd2a20001, 0x91402021, 0xd28000a2, 0xf8627823, 0x8b030000, 0xf1000442, 0x54ffffa1,
        0x91002021, 0xab010004, 0xfa431884, 0x9a848005, 0x54fffee3, 0xca050000, 0x17fffff5,
    ];

    [Fact]
    public void NestedLoops_EveryBudgetUpTo400_MatchesTheInterpreter()
    {
        using var pair = new EnginePair();
        var data = new byte[0x1000];
        new Random(18).NextBytes(data);
        pair.Write(EnginePair.Ram + 0x8000, data);
        pair.Load(EnginePair.Code, NestedLoops);
        for (int budget = 1; budget <= 400; budget++)
        {
            pair.Reset(el0MmuOn: false);
            pair.RunAndCompare(budget, $"budget {budget}");
        }

        // Of the 80,200 instructions, the interpreter ran only each budget's remainder past the last check it
        // passed (below the bound there, 11 at most), not up to a whole block's worth.
        Assert.True(pair.Native.Counters.TranslatedInstructions > 400 * 401 / 2 * 9 / 10, $"{pair.Native.Counters.TranslatedInstructions} instructions ran natively");
    }

    [Fact]
    public void FlagsSetBeforeALoopHead_WhereTheLoopRedefinesThem_AreExactWhenTheCheckThereLeaves()
    {
        // mov x3, #20; A: subs x3, x3, #1; b.ne A; cmp x0, x1; L: subs x2, x2, #1; b.ne L; b . : the check at
        // L may leave right after the CMP (budget 43), whose NZCV then is the PE's although the loop sets NZCV
        // again before reading it.
        using var pair = new EnginePair();
        pair.Load(EnginePair.Code, 0xd2800283, 0xf1000463, 0x54ffffe1, 0xeb01001f, 0xf1000442, 0x54ffffe1, 0x14000000);
        for (int budget = 32; budget <= 64; budget++)
        {
            pair.Reset(el0MmuOn: false, cpu =>
            {
                cpu.State.X[0] = 1;
                cpu.State.X[1] = 2;
                cpu.State.X[2] = 4;
            });
            pair.RunAndCompare(budget, $"budget {budget}");
        }
    }

    [Fact]
    public void Bounds_CountToTheNextBackwardBranchOrExit()
    {
        var block = new IrBlock();
        var discovery = new BlockDiscovery();
        unsafe
        {
            fixed (uint* words = new uint[1024])
            {
                NestedLoops.CopyTo(new Span<uint>(words, NestedLoops.Length));
                discovery.Run(words, 0x1000, NativeTranslator.MaxInstructions);
                block.Reset(words, 0x1000, BlockMode.El1, discovery.Indices, discovery.Words, discovery.Ops, discovery.IsLabel, discovery.IsEntry);
            }
        }

        new A64IrBuilder().Build(block);
        int n = block.Indices.Length;
        Assert.Equal(NestedLoops.Length, n);
        int[] bounds = new int[n];
        BudgetBounds.Compute(block, bounds);

        // From the inner loop's head: ldr, add, subs, b.ne, add, adds, ccmp, csel, b.lo, eor, b (then only
        // backward branches, each checked): 11; from the entry, the three before it and the outer head's mov too.
        Assert.Equal(11, bounds[4]);
        Assert.Equal(12, bounds[3]);
        Assert.Equal(15, bounds[0]);
        Assert.Equal(2, bounds[13]); // eor, b
        Assert.Equal(A64Op.B, block.Decoded[14]);
    }
}

using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// <see cref="X86Cpu.ExactBudget"/> off: a native block begun inside a run's budget finishes past it, so the ends of
/// time slices run natively instead of instruction by instruction in the interpreter, with the same guest state.
/// </summary>
public sealed class NativeBudgetTests
{
    private static TestMachine Machine(bool native, bool exact)
    {
        var m = TestMachine.Native64(native);
        m.Cpu.ExactBudget = exact;
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 3000);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.add(eax, ecx);
            a.imul(edx, eax, 7);
            a.xor(eax, edx);
            a.ror(eax, 3);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.Cpu.StateChanged();
        return m;
    }

    /// <summary>Runs in slices of <paramref name="slice"/> to the HLT; returns the largest overshoot of a slice.</summary>
    private static long RunInSlices(TestMachine m, long slice)
    {
        long overshoot = 0;
        while (true)
        {
            long before = m.Cpu.InstructionsRetired;
            var reason = m.Run(slice);
            overshoot = Math.Max(overshoot, m.Cpu.InstructionsRetired - before - slice);
            if (reason == X86ExitReason.Hlt)
            {
                return overshoot;
            }

            Assert.Equal(X86ExitReason.BudgetExhausted, reason);
        }
    }

    [Theory]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(1000)]
    public void An_inexact_budget_lets_blocks_finish_past_the_slice_in_the_same_state(long slice)
    {
        using var interpreted = Machine(native: false, exact: true);
        using var exact = Machine(native: true, exact: true);
        using var inexact = Machine(native: true, exact: false);
        Assert.Equal(0, RunInSlices(interpreted, slice));
        Assert.Equal(0, RunInSlices(exact, slice));
        long overshoot = RunInSlices(inexact, slice);
        Assert.InRange(overshoot, 1, Translation.Native.X86NativeTranslator.MaxInstructions);
        foreach (var m in new[] { exact, inexact })
        {
            TestMachine.AssertSameRegisters(interpreted, m);
        }

        // At the end of every slice the exact budget interprets what no block fits in; the inexact one does not.
        long outsideExact = exact.Cpu.InstructionsRetired - exact.Cpu.TranslatedInstructions;
        long outsideInexact = inexact.Cpu.InstructionsRetired - inexact.Cpu.TranslatedInstructions;
        Assert.True(outsideInexact * 2 < outsideExact, $"outside native code: {outsideInexact} inexact, {outsideExact} exact");
    }
}

using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>A place the native translator declined is translated again later: code rewritten into something a block runs
/// (as Linux patches a call site while it runs) then runs natively.</summary>
public sealed class NativeDeclinedRetryTests
{
    [Fact]
    public void A_declined_place_rewritten_into_supported_code_runs_natively()
    {
        using var m = TestMachine.Native64(native: true);
        // loop: pause (F3 90: declined, the interpreter runs it); add eax, ecx; dec ecx; jnz loop
        m.Load(a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 2000);
            a.xor(eax, eax);
            a.Label(ref loop);
            a.pause();
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        const ulong pause = TestMachine.Code + 5 + 2;
        Assert.Equal(0xF3, m.Memory.Read<byte>(pause));
        m.Cpu.StateChanged();
        Assert.Equal(X86ExitReason.BudgetExhausted, m.Run(7 + (4 * 500)));
        long outsideBefore = m.Cpu.InstructionsRetired - m.Cpu.TranslatedInstructions;
        Assert.True(outsideBefore >= 500, $"{outsideBefore}: the PAUSE ran in the interpreter every round");
        m.Memory.Write<byte>(pause, 0x66); // 66 90: a NOP, which blocks run
        Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
        Assert.Equal(2000UL * 2001 / 2, m.R.Gpr[Gpr.Rax]);
        long outsideAfter = m.Cpu.InstructionsRetired - m.Cpu.TranslatedInstructions - outsideBefore;
        Assert.True(outsideAfter < 200, $"{outsideAfter} of the last 1,500 rounds' instructions ran outside native code");
    }
}

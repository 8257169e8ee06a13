using Iced.Intel;
using SoftKvm.X86.Cpu;
using SoftKvm.X86.Cpu.Translation;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests;

/// <summary>
/// A block entered at the head of a loop is that loop alone (<see cref="BlockCompiler"/>): the code the loop leaves to is
/// not compiled with it, so that the JIT's time for a hot loop's block is the loop's, not that of the whole page's
/// reachable code (issue 19: a row's loop block arrived after the row had ended).
/// </summary>
public class LoopBlockTests
{
    /// <summary>mov ecx, 1000; loop: test cl, 1; jz even; add eax, 3; jmp join; even: add eax, 5; join: dec ecx; jnz loop;
    /// then 70 × add ebx, 1; hlt.</summary>
    private static void Program(Assembler a)
    {
        var loop = a.CreateLabel();
        var even = a.CreateLabel();
        var join = a.CreateLabel();
        a.mov(ecx, 1000);
        a.Label(ref loop);
        a.test(cl, 1);
        a.jz(even);
        a.add(eax, 3);
        a.jmp(join);
        a.Label(ref even);
        a.add(eax, 5);
        a.Label(ref join);
        a.dec(ecx);
        a.jnz(loop);
        for (int k = 0; k < 70; k++)
        {
            a.add(ebx, 1);
        }

        a.hlt();
    }

    [Fact]
    public void A_block_entered_at_a_loop_head_is_the_loop_and_one_entered_before_it_is_everything_it_reaches()
    {
        var a = new Assembler(32);
        Program(a);
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), TestMachine.Code);
        var page = new byte[0x1000];
        ms.ToArray().CopyTo(page, 0);

        var loop = BlockCompiler.Compile(page, 0, 5, TestMachine.Code, 32);
        Assert.Equal(7, loop!.InstructionCount); // TEST, JZ, both ADDs, JMP, DEC, JNZ

        // Entered at DEC (after an exit, say): the way out of the loop is longer than a block, yet the loop is found first.
        int join = Array.IndexOf(page, (byte)0x49, 5); // DEC ECX
        Assert.Equal(7, BlockCompiler.Compile(page, 0, join, TestMachine.Code, 32)!.InstructionCount);

        var all = BlockCompiler.Compile(page, 0, 0, TestMachine.Code, 32);
        Assert.Equal(BlockCompiler.MaxInstructions, all!.InstructionCount); // MOV, the loop, the ADDs up to the limit
    }

    [Fact]
    public void The_code_after_a_loop_block_runs_as_interpreted()
    {
        using var interpreted = TranslationTests.NewMachine(32, translate: false, native: false);
        using var translated = TranslationTests.NewMachine(32, translate: true, native: false);
        foreach (var m in new[] { interpreted, translated })
        {
            m.Load(Program);
            m.R.Gpr[Gpr.Rax] = 0;
            m.R.Gpr[Gpr.Rbx] = 0;
            Assert.Equal(X86ExitReason.Hlt, m.Run(1_000_000));
            Assert.Equal(4000UL, m.R.Gpr[Gpr.Rax]);
            Assert.Equal(70UL, m.R.Gpr[Gpr.Rbx]);
        }

        TranslationTests.AssertSameState(interpreted, translated);
        Assert.True(translated.Cpu.TranslatedInstructions > 4000, $"{translated.Cpu.TranslatedInstructions} ran translated");
    }

    [Fact]
    public void A_block_entered_in_an_inner_loop_is_the_inner_loop_and_one_at_the_outer_head_holds_both()
    {
        // mov esi, 10; outer: mov ecx, 5; inner: add eax, ecx; dec ecx; jnz inner; add ebx, 1; dec esi; jnz outer; hlt
        var a = new Assembler(32);
        var outer = a.CreateLabel();
        var inner = a.CreateLabel();
        a.mov(esi, 10);
        a.Label(ref outer);
        a.mov(ecx, 5);
        a.Label(ref inner);
        a.add(eax, ecx);
        a.dec(ecx);
        a.jnz(inner);
        a.add(ebx, 1);
        a.dec(esi);
        a.jnz(outer);
        a.hlt();
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), TestMachine.Code);
        var page = new byte[0x1000];
        ms.ToArray().CopyTo(page, 0);

        const int outerAt = 5, innerAt = 10, afterAdd = 12; // mov esi (5), mov ecx (5), add eax, ecx (2)
        Assert.Equal(3, BlockCompiler.Compile(page, 0, innerAt, TestMachine.Code, 32)!.InstructionCount); // ADD, DEC, JNZ
        Assert.Equal(3, BlockCompiler.Compile(page, 0, afterAdd, TestMachine.Code, 32)!.InstructionCount); // (entered after an exit, say)
        Assert.Equal(7, BlockCompiler.Compile(page, 0, outerAt, TestMachine.Code, 32)!.InstructionCount);
    }
}

using Iced.Intel;
using SoftKvm.X86.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// Translated blocks against the interpreter (itself checked against the host CPU by
/// <see cref="DifferentialTests"/>) on the differential generator's random sequences, each made the body
/// of a loop: flags, registers and memory then flow round a back edge, through the block's register
/// locals, its flag liveness and its calls of the interpreter's handlers, and faults come at any
/// iteration. Everything architectural must be equal.
/// </summary>
public class TranslationFuzzTests
{
    private const int Cases = 2000;
    private const int Rounds = 7;

    /// <summary>Runs <paramref name="program"/> from the state of <paramref name="seed"/>; returns a description of the final state.</summary>
    private static string Run(DiffRunner runner, ulong seed, byte[] program)
    {
        var reason = runner.Execute(seed, program, 10_000);
        var cpu = runner.Cpu;
        ref var r = ref cpu.Regs;
        string exit = reason == X86ExitReason.ExceptionOrNmi ? $"#{cpu.Exit.Vector}({cpu.Exit.ErrorCode:x})" : reason.ToString();
        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++)
        {
            gpr[i] = r.Gpr[i];
        }

        return $"{exit} rip {r.Rip:x} flags {r.Rflags:x} retired {cpu.InstructionsRetired}\n"
            + string.Join(" ", gpr.Select((g, i) => $"r{i}={g:x}"))
            + $"\ndata {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(runner.Data))}";
    }

    /// <summary>[r15 - 0x1000] = rounds; loop: sequence; dec dword [r15 - 0x1000]; jnz loop; hlt (the counter lies
    /// below the data page the sequences address through R15, which they never write).</summary>
    private static byte[] Loop(byte[] body)
    {
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.mov(__dword_ptr[r15 - 0x1000], Rounds);
        a.Label(ref loop);
        a.db(body);
        a.dec(__dword_ptr[r15 - 0x1000]);
        a.jnz(loop);
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), DiffCase.CodeAddress);
        return stream.ToArray();
    }

    [Fact]
    public void Random_loops_run_translated_in_the_interpreters_exact_state()
    {
        using var interpreted = new DiffRunner(translate: false);
        using var translated = new DiffRunner(translate: true);
        var divergent = new List<string>();
        for (int i = 0; i < Cases && divergent.Count < 3; i++)
        {
            byte[] program = Loop(DiffGenerator.Generate(i, out _));
            string a = Run(interpreted, (ulong)i, program);
            string b = Run(translated, (ulong)i, program);
            if (a != b)
            {
                divergent.Add($"case {i}: {Convert.ToHexString(program)}\ninterpreted {a}\ntranslated  {b}");
            }
        }

        Assert.True(divergent.Count == 0, string.Join("\n\n", divergent));
        Assert.True(translated.Cpu.TranslatedInstructions > translated.Cpu.InstructionsRetired / 4,
            $"{translated.Cpu.TranslatedInstructions} of {translated.Cpu.InstructionsRetired} ran translated");
        Assert.Equal(0, translated.Cpu.TranslationFailures);
    }
}

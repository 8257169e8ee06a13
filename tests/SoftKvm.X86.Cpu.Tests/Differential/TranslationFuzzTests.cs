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
    private static string Run(DiffRunner runner, ulong seed, byte[] program) => Describe(runner, runner.Execute(seed, program, 10_000));

    /// <summary>The state a run left, with the status flags outside <paramref name="flagsMask"/> cleared.</summary>
    private static string Describe(DiffRunner runner, X86ExitReason reason, ulong flagsMask = ulong.MaxValue)
    {
        var cpu = runner.Cpu;
        ref var r = ref cpu.Regs;
        string exit = reason == X86ExitReason.ExceptionOrNmi ? $"#{cpu.Exit.Vector}({cpu.Exit.ErrorCode:x})" : reason.ToString();
        var gpr = new ulong[16];
        for (int i = 0; i < 16; i++)
        {
            gpr[i] = r.Gpr[i];
        }

        return $"{exit} rip {r.Rip:x} flags {r.Rflags & flagsMask:x} retired {cpu.InstructionsRetired}\n"
            + string.Join(" ", gpr.Select((g, i) => $"r{i}={g:x}"))
            + $"\ndata {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(runner.Data))}";
    }

    /// <summary>[r15 - 0x1000] = rounds; loop: sequence; dec dword [r15 - 0x1000]; jnz loop; hlt (the counter lies
    /// below the data page the sequences address through R15, which they never write).</summary>
    private static byte[] Loop(byte[] body, bool clearCarry = false)
    {
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.mov(__dword_ptr[r15 - 0x1000], Rounds);
        a.Label(ref loop);
        if (clearCarry)
        {
            a.clc();
        }

        a.db(body);
        a.dec(__dword_ptr[r15 - 0x1000]);
        a.jnz(loop);
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), DiffCase.CodeAddress);
        return stream.ToArray();
    }

    /// <summary>
    /// The same loops as native x86-64 blocks: the loop runs inside the block (its back edge, budget and exit
    /// checks), its flags in the host's RFLAGS across iterations. Flags the SDM leaves undefined are the host
    /// CPU's in a native block and the interpreter's choice otherwise, so the sequences' undefined flags
    /// (<see cref="DiffGenerator"/>'s mask where the loop stopped) are compared only where defined, and each pass starts
    /// with CLC: the generator defines every flag at a sequence's start, and DEC, which ends a pass, all but CF.
    /// </summary>
    [Fact]
    public void Random_loops_run_natively_in_the_interpreters_exact_state()
    {
        Assert.True(Translation.Native.X86NativeTranslator.HostSupported, "native blocks need an x86-64 host with BMI2");
        using var interpreted = new DiffRunner(translate: false);
        using var native = new DiffRunner(native: true);
        var divergent = new List<string>();
        for (int i = 0; i < Cases && divergent.Count < 3; i++)
        {
            byte[] body = DiffGenerator.Generate(i, out var masks);
            byte[] program = Loop(body, clearCarry: true);
            var reason = interpreted.Execute((ulong)i, program, 10_000);
            ulong defined = DefinedFlags(interpreted.Cpu.Regs.Rip, program.Length - body.Length - LoopTail, masks);
            string a = Describe(interpreted, reason, defined);
            string b = Describe(native, native.Execute((ulong)i, program, 10_000), defined);
            if (a != b)
            {
                divergent.Add($"case {i}: {Convert.ToHexString(program)}\ninterpreted {a}\nnative      {b}");
            }
        }

        Assert.True(divergent.Count == 0, string.Join("\n\n", divergent));
        Assert.True(native.Cpu.TranslatedInstructions > native.Cpu.InstructionsRetired / 4,
            $"{native.Cpu.TranslatedInstructions} of {native.Cpu.InstructionsRetired} ran natively");
        Assert.Equal(0, native.Cpu.TranslationFailures);
    }

    /// <summary>The bytes of <see cref="Loop"/> after the body: DEC dword [r15 - 0x1000] (7), JNZ (2), HLT (1); before it, the
    /// counter's MOV and CLC.</summary>
    private const int LoopTail = 10;

    /// <summary>The status flags defined where the loop stopped at <paramref name="rip"/> (the body starts <paramref name="bodyStart"/>
    /// bytes in): the generator's mask of that boundary, or after the last pass its end mask and what DEC writes.</summary>
    private static ulong DefinedFlags(ulong rip, int bodyStart, (ulong Offset, ulong Mask)[] masks)
    {
        ulong offset = rip - DiffCase.CodeAddress - (ulong)bodyStart;
        ulong end = masks[^1].Mask;
        ulong mask = end | 0x8D4; // DEC writes every status flag but CF
        foreach (var (at, m) in masks)
        {
            if (at == offset)
            {
                mask = m;
            }
        }

        return ~0x8D5UL | mask;
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

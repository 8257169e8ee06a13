using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>Generates cases, runs both sides and collects the divergences.</summary>
internal static class DifferentialRun
{
    public sealed record Report(int Cases, int Tested, int Words, int Faulted, IReadOnlyList<string> Divergences)
    {
        public string Summary =>
            $"{Cases} cases, {Tested} generated instructions ({Words} words with the set-up), {Faulted} cases ended in a signal, {Divergences.Count} divergences";
    }

    /// <summary>Generates cases from <paramref name="seed"/> until <paramref name="instructions"/> instructions under test.</summary>
    public static List<DiffCase> Generate(ulong seed, int instructions, Func<A64Op, bool>? filter = null, int rawPercent = 0, bool includeUncovered = false)
    {
        var generator = new A64CaseGenerator(seed, filter, rawPercent, includeUncovered);
        var cases = new List<DiffCase>();
        int tested = 0;
        while (tested < instructions)
        {
            var c = generator.Next();
            cases.Add(c);
            tested += c.Tested;
        }

        return cases;
    }

    /// <summary>Runs every case on SoftKvm and compares with <paramref name="expected"/>.</summary>
    public static Report Compare(IReadOnlyList<DiffCase> cases, IReadOnlyList<DiffState> initial, IReadOnlyList<DiffState> expected, bool memoryFaultsAlike = false, DiffEngine engine = DiffEngine.Interpreter)
    {
        var divergences = new List<string>();
        using var runner = new SoftKvmDiffRunner(engine);
        for (int i = 0; i < cases.Count; i++)
        {
            var actual = runner.Run(cases[i], initial[i]);
            string diff = actual.Differences(expected[i], memoryFaultsAlike);
            if (diff.Length > 0)
            {
                divergences.Add($"seed {cases[i].Seed:x16} words {Disassembly(cases[i])}:{diff}");
            }
        }

        return new Report(cases.Count, cases.Sum(c => c.Tested), cases.Sum(c => c.Words.Length), expected.Count(e => e.Signal != 0), divergences);
    }

    private static string Disassembly(DiffCase c) =>
        string.Join(" ", c.Words.Select(w => $"{w:x8}({A64Decoder.Decode(w)})"));
}

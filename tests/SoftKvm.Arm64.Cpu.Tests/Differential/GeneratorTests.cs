using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>The differential generator: table-driven, valid, deterministic, and its do-not-test list explained.</summary>
public sealed class GeneratorTests
{
    [Fact]
    public void EveryRowIsGeneratedOrListedWithAReason()
    {
        foreach (var (op, reason) in A64CaseGenerator.DoNotTest)
        {
            Assert.False(string.IsNullOrWhiteSpace(reason), $"{op} has no reason");
        }

        var tested = A64CaseGenerator.TestedRows().Select(r => A64DecodeTable.Rows[r].Op).ToHashSet();
        Assert.Empty(tested.Intersect(A64CaseGenerator.DoNotTest.Keys));
        Assert.True(tested.Count >= 90, $"only {tested.Count} ops generated");
    }

    [Fact]
    public void EveryTestedRowAppearsInTheFixedSeedBatch()
    {
        var seen = new HashSet<A64Op>();
        foreach (var c in DifferentialRun.Generate(DifferentialTests.Seed + 1, 20_000))
        {
            foreach (var w in c.Words)
            {
                seen.Add(A64Decoder.Decode(w));
            }
        }

        var missing = A64CaseGenerator.TestedRows().Select(r => A64DecodeTable.Rows[r].Op).Where(op => !seen.Contains(op)).ToList();
        Assert.True(missing.Count == 0, "never generated: " + string.Join(", ", missing));
    }

    [Fact]
    public void GeneratedWordsAreDecodableAndNeverOnTheDoNotTestList()
    {
        foreach (var c in DifferentialRun.Generate(7, 5_000))
        {
            Assert.InRange(c.Words.Length, 1, DiffLayout.MaxWords);
            foreach (var w in c.Words)
            {
                var op = A64Decoder.Decode(w);
                Assert.NotEqual(A64Op.Undefined, op);
                Assert.False(A64CaseGenerator.DoNotTest.ContainsKey(op), $"{w:x8} decodes to {op}, which is on the do-not-test list");
            }
        }
    }

    [Fact]
    public void BranchesStayInsideTheBlockAndGoForward()
    {
        foreach (var c in DifferentialRun.Generate(11, 5_000, op => op is A64Op.B or A64Op.Bl or A64Op.BCond or A64Op.Cbz or A64Op.Cbnz or A64Op.Tbz or A64Op.Tbnz))
        {
            for (int i = 0; i < c.Words.Length; i++)
            {
                uint w = c.Words[i];
                long offset = A64Decoder.Decode(w) switch
                {
                    A64Op.B or A64Op.Bl => (long)((int)(w << 6) >> 6),
                    A64Op.Tbz or A64Op.Tbnz => (int)(w << 13) >> 18,
                    _ => (int)(w << 8) >> 13,
                };
                Assert.InRange(i + offset, i + 1, c.Words.Length);
            }
        }
    }

    [Fact]
    public void FocusedFormsDecodeToOneRowAndAreGenerated()
    {
        var words = DifferentialRun.Generate(DifferentialTests.Seed, 10_000).SelectMany(c => c.Words).ToList();
        foreach (var (name, pattern) in A64FocusedForms.Forms)
        {
            int row = A64FocusedForms.Row(pattern);
            Assert.True(row >= 0, $"{name}: its words decode to different rows");
            Assert.NotEqual(A64Op.Undefined, A64DecodeTable.Rows[row].Op);
            var (mask, value) = A64FocusedForms.Encoding(pattern);
            Assert.True(words.Any(w => (w & mask) == value), $"{name} never generated");
        }
    }

    [Fact]
    public void GenerationIsDeterministic()
    {
        var a = DifferentialRun.Generate(42, 500);
        var b = DifferentialRun.Generate(42, 500);
        Assert.Equal(a.Select(c => (c.Seed, c.WordsText)), b.Select(c => (c.Seed, c.WordsText)));
    }

    [Fact]
    public void ComparisonReportsEveryKindOfDifference()
    {
        var s = DiffState.Initial(1);
        Assert.Empty(s.Clone().Differences(s));
        var x = s.Clone();
        x.X[5] ^= 1;
        Assert.Contains("x5=", x.Differences(s));
        var n = s.Clone();
        n.Nzcv ^= 0x1000_0000;
        Assert.Contains("nzcv=", n.Differences(s));
        var m = s.Clone();
        m.Scratch[100] ^= 0xFF;
        Assert.Contains("mem[0x20008064]", m.Differences(s));
        var f = s.Clone();
        f.Signal = DiffState.SigIll;
        Assert.Contains("SIGILL", f.Differences(s));
        var p = s.Clone();
        p.Sp += 16;
        Assert.Contains("sp=", p.Differences(s));
    }

    [Fact]
    public void SoftKvmRunnerExecutesABlock()
    {
        // add x0, x1, x2; str x0, [x3] after the generator-style base set-up of x3.
        var c = new DiffCase(3, [0xd2a40003u, 0xf2910003u, 0x8b020020u, 0xf9000060u], 2);
        var initial = DiffState.Initial(c.Seed);
        using var runner = new SoftKvmDiffRunner();
        var r = runner.Run(c, initial);
        Assert.Equal(0, r.Signal);
        ulong sum = initial.X[1] + initial.X[2];
        Assert.Equal(sum, r.X[0]);
        Assert.Equal(0x2000_8800UL, r.X[3]);
        Assert.Equal(sum, BitConverter.ToUInt64(r.Scratch, 0x800));
    }
}

using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;
using Xunit.Abstractions;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// FEAT_FP16 against <c>qemu-aarch64 -cpu max</c>: the committed golden vectors of <see cref="Fp16Cases"/>
/// (every half-precision form, special operands, every FPCR.RMode/FZ16/DN, FPSR read back) in the interpreter and in
/// native blocks, the live batch, and the writer of the golden file.
/// </summary>
public sealed class Fp16DifferentialTests(ITestOutputHelper output)
{
    /// <summary>The seed of the committed golden vectors.</summary>
    public const ulong Seed = 0x5EED_A64D_F016_0022;

    /// <summary>Cases per form in the golden file.</summary>
    private const int GoldenPerForm = 16;

    public static string GoldenPath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Golden", "a64-fp16.golden.txt");

    [Theory]
    [InlineData(DiffEngine.Interpreter)]
    [InlineData(DiffEngine.Native)]
    public void Fp16GoldenVectors_SoftKvmMatchesQemuMax(DiffEngine engine)
    {
        var golden = GoldenVectorFile.Read(GoldenPath()).Where(g => engine == DiffEngine.Interpreter || g.Expected.Signal == 0).ToList();
        Assert.True(golden.Count >= Fp16Cases.Forms.Length * GoldenPerForm, $"only {golden.Count} golden cases");
        var cases = golden.Select(g => g.Case).ToList();
        var report = DifferentialRun.Compare(cases, cases.Select(c => DiffState.Initial(c.Seed)).ToList(), golden.Select(g => g.Expected).ToList(), engine: engine, model: CpuModel.Max);
        output.WriteLine(report.Summary);
        Assert.True(report.Divergences.Count == 0, report.Summary + "\n" + string.Join("\n", report.Divergences.Take(20)));
    }

    [Fact]
    public void Fp16GoldenVectors_NoCaseEndsInASignal()
    {
        // Every form is allocated on -cpu max: QEMU ran each case to its end (the FPSR read-back after it).
        var golden = GoldenVectorFile.Read(GoldenPath());
        Assert.All(golden, g => Assert.Equal(0, g.Expected.Signal));
    }

    [Fact]
    public void Fp16Forms_DecodeToTheHalfPrecisionRowsAndCoverThemAll()
    {
        var seen = new HashSet<A64Op>();
        var rng = new SplitMix64(1);
        foreach (var (name, pattern, _) in Fp16Cases.Forms)
        {
            Assert.True(pattern.Length == 32, $"{name}: {pattern.Length} bits");
            for (int k = 0; k < 16; k++)
            {
                var c = Fp16Cases.Make(Array.FindIndex(Fp16Cases.Forms, f => f.Name == name), rng.Next(), k);
                uint insn = c.Words[^3];
                A64Op op = A64Decoder.Decode(insn);
                Assert.True(op.ToString().Contains("Half", StringComparison.Ordinal) || op is A64Op.SimdThreeSameExtra or A64Op.SimdIndexedElement
                    or A64Op.FpDataProc1 or A64Op.SimdTwoRegMisc,
                    $"{name}: 0x{insn:x8} decodes to {op}");
                seen.Add(op);
            }
        }

        var halfOps = Enum.GetValues<A64Op>().Where(o => o.ToString().Contains("Half", StringComparison.Ordinal));
        Assert.Empty(halfOps.Except(seen));
    }

    [Fact]
    public void Fp16Instructions_AreUndefinedOnCortexA57()
    {
        // The same cases on the ARMv8.0 model: each ends in SIGILL at the FP16 instruction (the ARMv8.0 conversions aside).
        using var runner = new SoftKvmDiffRunner(DiffEngine.Interpreter, CpuModel.CortexA57);
        var rng = new SplitMix64(2);
        for (int form = 0; form < Fp16Cases.Forms.Length; form++)
        {
            var c = Fp16Cases.Make(form, rng.Next(), form & 15);
            if (A64Decoder.Decode(c.Words[^3]) is A64Op.FpDataProc1 or A64Op.SimdTwoRegMisc)
            {
                continue; // FCVT, FCVTL, FCVTN with half precision: ARMv8.0
            }

            var result = runner.Run(c, DiffState.Initial(c.Seed));
            Assert.True(result.Signal == DiffState.SigIll, $"{Fp16Cases.Forms[form].Name}: {result.Describe()}");
            Assert.Equal(DiffLayout.BlockBase + (4UL * (ulong)(c.Words.Length - 3)), result.FaultPc);
        }
    }

    [Theory]
    [InlineData(0xBE00u, 1, false, 0xFFFDu)]  // -1.5 * 2 = -3
    [InlineData(0xBE00u, 1, true, 0x0000u)]   // negative: 0 unsigned (IOC)
    [InlineData(0x7BFFu, 16, false, 0x7FFFu)] // saturates at 16 bits
    [InlineData(0xC400u, 2, false, 0xFFF0u)]  // -4 * 4 = -16
    public void Fp16ScalarFixedPointConversion_WritesSixteenBits(uint half, int fbits, bool unsigned, uint expected)
    {
        // FCVTZS/FCVTZU Hd, Hn, #fbits (not in the golden file: qemu 7.2 sign-extends the signed result to
        // 32 bits; the Arm ARM writes esize = 16 bits, the rest of Vd zero). movz w0, #half; fmov h0, w0; fcvtz* h1, h0, #fbits.
        uint fcvtz = 0x5F00_FC01u | (unsigned ? 1u << 29 : 0) | ((uint)(32 - fbits) << 16);
        var c = new DiffCase(7, [0x5280_0000u | (half << 5), 0x1EE7_0000u, fcvtz], 3);
        using var runner = new SoftKvmDiffRunner(DiffEngine.Interpreter, CpuModel.Max);
        var result = runner.Run(c, DiffState.Initial(c.Seed));
        Assert.Equal(0, result.Signal);
        Assert.Equal(expected, result.V[2]);
        Assert.Equal(0UL, result.V[3]);
    }

    [QemuFact]
    public void LiveFp16_SoftKvmMatchesQemuMax()
    {
        int perForm = int.TryParse(Environment.GetEnvironmentVariable("ARM64DIFF_FP16_PER_FORM"), out int n) ? n : 40;
        ulong seed = Seed + (ulong)DateTime.UtcNow.Ticks;
        var cases = Fp16Cases.All(seed, perForm);
        var initial = cases.Select(c => DiffState.Initial(c.Seed)).ToList();
        var expected = QemuReference.Run(cases, initial, cpu: "max");
        var report = DifferentialRun.Compare(cases, initial, expected, model: CpuModel.Max);
        output.WriteLine($"seed 0x{seed:x}: {report.Summary}");
        for (int i = 0; i < cases.Count; i++)
        {
            if (expected[i].Signal != 0)
            {
                output.WriteLine($"qemu: {expected[i].Describe()} in 0x{cases[i].Words[^3]:x8} ({A64Decoder.Decode(cases[i].Words[^3])})");
            }
        }

        foreach (var d in report.Divergences.Take(100))
        {
            output.WriteLine(d);
        }

        Assert.True(report.Divergences.Count == 0, report.Summary + "\n" + string.Join("\n", report.Divergences.Take(20)));
    }

    [EnvironmentFact("ARM64DIFF_WRITE_GOLDEN")]
    public void WriteFp16GoldenVectors()
    {
        var cases = Fp16Cases.All(Seed, GoldenPerForm);
        var initial = cases.Select(c => DiffState.Initial(c.Seed)).ToList();
        var expected = QemuReference.Run(cases, initial, cpu: "max");
        string path = GoldenPath();
        GoldenVectorFile.Write(path,
            $"A64 golden vectors of FEAT_FP16 (Fp16Cases: {Fp16Cases.Forms.Length} forms x {GoldenPerForm}, special operands, every RMode/FZ16/DN, FPSR in x10): "
            + $"results of qemu-aarch64 -cpu max ({cases.Count} cases, seed 0x{Seed:x}).\n"
            + "Generated by tools/arm64-diff/run.sh golden; format: GoldenVectorFile.cs.",
            cases, expected);
        Assert.Equal(cases.Count, GoldenVectorFile.Read(path).Count);
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// Differential testing of the user-mode integer ISA against the host CPU. The golden hashes in
/// golden.bin were produced by native/diffharness.c on an x86-64 host; the golden test needs only them.
/// On an x86-64 Linux host with gcc the cases also run live against the host CPU; set
/// SOFTKVM_X86_DIFF_WRITE_GOLDEN=1 to rewrite golden.bin from it.
/// </summary>
public class DifferentialTests
{
    public const int CaseCount = 100_000;

    private static string Dir([CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;

    internal static string GoldenPath => Path.Combine(Dir(), "golden.bin");

    [Fact]
    public void Golden_vectors_match_with_zero_divergences() => RunGolden(translate: false, step: 1);

    /// <summary>
    /// Every 8th case again, each compiled as a translated block at its first instruction (JIT time
    /// keeps it to a subset): the block's compiled instructions, the handlers it calls and its leaves
    /// to the interpreter (faults, the final HLT) must give the host's exact results.
    /// </summary>
    [Fact]
    public void Golden_vectors_match_as_translated_blocks()
    {
        var cpu = RunGolden(translate: true, step: 8);
        Assert.True(cpu.TranslatedInstructions > CaseCount / 8, $"{cpu.TranslatedInstructions} instructions ran translated");
        Assert.Equal(0, cpu.TranslationFailures);
    }

    /// <summary>
    /// Every case again as native x86-64 blocks translated at their first instruction (X86NativeTranslator): the
    /// instructions they run on the host, their TLB fast path, their leaves to the interpreter (faults, misses,
    /// the final HLT) and the flags they keep in the host's RFLAGS must give the host's exact results.
    /// </summary>
    [Fact]
    public void Golden_vectors_match_as_native_blocks()
    {
        Assert.True(Translation.Native.X86NativeTranslator.HostSupported, "native blocks need an x86-64 host with BMI2");
        var cpu = RunGolden(translate: false, step: 1, native: true);
        Assert.True(cpu.TranslatedInstructions > CaseCount, $"{cpu.TranslatedInstructions} instructions ran natively");
        Assert.Equal(0, cpu.TranslationFailures);
    }

    private static X86Cpu RunGolden(bool translate, int step, bool native = false)
    {
        var golden = File.ReadAllBytes(GoldenPath);
        int count = golden.Length / 4;
        Assert.Equal(CaseCount, count);
        using var runner = new DiffRunner(translate, native);
        var divergent = new List<string>();
        int total = 0;
        for (int i = 0; i < count; i += step)
        {
            var code = DiffGenerator.Generate(i, out var mask);
            uint h = runner.Run((ulong)i, code, mask, out string state);
            total++;
            if (h != BitConverter.ToUInt32(golden, i * 4) && divergent.Count < 5)
            {
                divergent.Add($"case {i}: {Convert.ToHexString(code)}\n{state}");
            }
            else if (h != BitConverter.ToUInt32(golden, i * 4))
            {
                divergent.Add(string.Empty);
            }
        }

        Assert.True(divergent.Count == 0, $"{divergent.Count} of {total} diverge:\n" + string.Join("\n", divergent.Take(5)));
        return runner.Cpu;
    }

    /// <summary>Every case, live against the host CPU (the native harness, built here).</summary>
    [HostHarnessFact]
    public void Live_cases_match_the_host_cpu()
    {
        var (_, divergences, report) = CompareWithHost();
        Assert.True(divergences == 0, $"{divergences} divergences of {CaseCount}:\n{report}");
    }

    /// <summary>Rewrites golden.bin from the host CPU, when SoftKvm agrees with it on every case.</summary>
    [HostHarnessFact("SOFTKVM_X86_DIFF_WRITE_GOLDEN")]
    public void Regenerate_golden_vectors_from_the_host_cpu()
    {
        var (native, divergences, report) = CompareWithHost();
        Assert.True(divergences == 0, $"{divergences} divergences of {CaseCount}:\n{report}");
        File.WriteAllBytes(GoldenPath, native);
    }

    private static (byte[] Native, int Divergences, string Report) CompareWithHost()
    {
        using var runner = new DiffRunner();
        return HostHarness.Compare(CaseCount, sse: false,
            i => new HostHarness.Case(DiffGenerator.Generate(i, out var masks), masks),
            (i, c) => (runner.Run((ulong)i, c.Code, c.Masks, out string state), state));
    }
}

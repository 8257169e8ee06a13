using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using SoftKvm.X86.Cpu;

namespace SoftKvm.X86.Tests.Differential;

/// <summary>
/// Differential testing of the user-mode integer ISA against the host CPU. The golden hashes in
/// golden.bin were produced by native/diffharness.c on an x86-64 host; <c>dotnet test</c> only needs
/// them. Set SOFTKVM_X86_DIFF_HARNESS to the built harness to regenerate them and compare live.
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

    private static X86Cpu RunGolden(bool translate, int step)
    {
        var golden = File.ReadAllBytes(GoldenPath);
        int count = golden.Length / 4;
        Assert.Equal(CaseCount, count);
        using var runner = new DiffRunner(translate);
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

    [Fact]
    public async Task Regenerate_golden_vectors_with_native_harness()
    {
        string? harness = Environment.GetEnvironmentVariable("SOFTKVM_X86_DIFF_HARNESS");
        if (harness is null)
        {
            Assert.True(File.Exists(GoldenPath), "golden.bin is committed");
            return;
        }

        var input = new MemoryStream();
        var codes = new byte[CaseCount][];
        var masks = new (ulong Offset, ulong Mask)[CaseCount][];
        for (int i = 0; i < CaseCount; i++)
        {
            codes[i] = DiffGenerator.Generate(i, out masks[i]);
            input.Write(BitConverter.GetBytes((ulong)i));
            input.Write(BitConverter.GetBytes(masks[i].Length));
            foreach (var (offset, m) in masks[i])
            {
                input.Write(BitConverter.GetBytes(offset));
                input.Write(BitConverter.GetBytes(m));
            }

            input.Write(BitConverter.GetBytes(codes[i].Length));
            input.Write(codes[i]);
        }

        string inPath = Path.Combine(Path.GetTempPath(), "x86-diff-cases.bin");
        string outPath = Path.Combine(Path.GetTempPath(), "x86-diff-native.bin");
        await File.WriteAllBytesAsync(inPath, input.ToArray());
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"\"{harness}\" < \"{inPath}\" > \"{outPath}\""]) { UseShellExecute = false };
        using (var p = Process.Start(psi)!)
        {
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }

        var native = await File.ReadAllBytesAsync(outPath);
        Assert.Equal(CaseCount * 4, native.Length);

        using var runner = new DiffRunner();
        var report = new StringBuilder();
        int divergences = 0;
        for (int i = 0; i < CaseCount; i++)
        {
            uint h = runner.Run((ulong)i, codes[i], masks[i], out string state);
            if (h != BitConverter.ToUInt32(native, i * 4))
            {
                divergences++;
                if (divergences <= 20)
                {
                    report.Append($"case {i}: {Convert.ToHexString(codes[i])}\nsoftkvm {state}\n");
                }
            }
        }

        File.WriteAllText(Path.Combine(Path.GetTempPath(), "x86-diff-report.txt"), report.ToString());
        if (divergences == 0)
        {
            File.WriteAllBytes(GoldenPath, native);
        }

        Assert.True(divergences == 0, $"{divergences} divergences of {CaseCount}:\n{report}");
    }
}

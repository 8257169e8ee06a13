using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace SoftKvm.X86.Tests.Differential;

/// <summary>
/// Differential testing of SSE/SSE2 against the host CPU: random sequences over XMM0-15, MXCSR (rounding,
/// DAZ, FTZ, unmasked exceptions), general registers, flags and the data page. sse-golden.bin holds the
/// hashes native/diffharness.c -s produced on an x86-64 host; set SOFTKVM_X86_DIFF_HARNESS to the built
/// harness to compare live and regenerate.
/// </summary>
public class SseDifferentialTests
{
    public const int CaseCount = 100_000;

    private static string Dir([CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;

    internal static string GoldenPath => Path.Combine(Dir(), "sse-golden.bin");

    [Fact]
    public void Sse_golden_vectors_match_with_zero_divergences()
    {
        var golden = File.ReadAllBytes(GoldenPath);
        int count = golden.Length / 4;
        Assert.Equal(CaseCount, count);
        using var runner = new SseDiffRunner();
        var divergent = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var code = SseDiffGenerator.Generate(i, out var mask);
            uint h = runner.Run((ulong)i, code, mask, out string state);
            if (h != BitConverter.ToUInt32(golden, i * 4))
            {
                divergent.Add(divergent.Count < 5 ? $"case {i}: {Convert.ToHexString(code)}\n{state}" : string.Empty);
            }
        }

        Assert.True(divergent.Count == 0, $"{divergent.Count} of {count} diverge:\n" + string.Join("\n", divergent.Take(5)));
        Assert.Equal(0, runner.Unimplemented);
        Assert.True(runner.Retired > 4 * count);
    }

    [Fact]
    public async Task Sse_regenerate_golden_vectors_with_native_harness()
    {
        string? harness = Environment.GetEnvironmentVariable("SOFTKVM_X86_DIFF_HARNESS");
        if (harness is null)
        {
            Assert.True(File.Exists(GoldenPath), "sse-golden.bin is committed");
            return;
        }

        int n = int.TryParse(Environment.GetEnvironmentVariable("SOFTKVM_X86_SSE_CASES"), out int c) ? c : CaseCount;
        var input = new MemoryStream();
        var codes = new byte[n][];
        var masks = new (ulong Offset, ulong Mask)[n][];
        for (int i = 0; i < n; i++)
        {
            codes[i] = SseDiffGenerator.Generate(i, out masks[i]);
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

        string inPath = Path.Combine(Path.GetTempPath(), "x86-sse-diff-cases.bin");
        string outPath = Path.Combine(Path.GetTempPath(), "x86-sse-diff-native.bin");
        await File.WriteAllBytesAsync(inPath, input.ToArray());
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"\"{harness}\" -s < \"{inPath}\" > \"{outPath}\""]) { UseShellExecute = false };
        using (var p = Process.Start(psi)!)
        {
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }

        var native = await File.ReadAllBytesAsync(outPath);
        Assert.Equal(n * 4, native.Length);

        using var runner = new SseDiffRunner();
        var report = new StringBuilder();
        int divergences = 0;
        for (int i = 0; i < n; i++)
        {
            uint h = runner.Run((ulong)i, codes[i], masks[i], out string state);
            if (h != BitConverter.ToUInt32(native, i * 4))
            {
                divergences++;
                if (divergences <= 40)
                {
                    report.Append($"case {i}: {Convert.ToHexString(codes[i])}\nsoftkvm {state}\n");
                }
            }
        }

        File.WriteAllText(Path.Combine(Path.GetTempPath(), "x86-sse-diff-report.txt"), report.ToString());
        if (divergences == 0 && n == CaseCount)
        {
            File.WriteAllBytes(GoldenPath, native);
        }

        Assert.True(divergences == 0, $"{divergences} divergences of {n}:\n{report}");
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// Differential testing of SSE/SSE2 against the host CPU: random sequences over XMM0-15, MXCSR (rounding,
/// DAZ, FTZ, unmasked exceptions), general registers, flags and the data page. sse-golden.bin holds the
/// hashes native/diffharness.c -s produced on an x86-64 host. On an x86-64 Linux host with gcc the cases
/// also run live against the host CPU; SOFTKVM_X86_DIFF_WRITE_GOLDEN=1 rewrites sse-golden.bin from it.
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

    /// <summary>Every case, live against the host CPU (the native harness in SSE mode, built here).</summary>
    [HostHarnessFact]
    public void Sse_live_cases_match_the_host_cpu()
    {
        var (_, divergences, report) = CompareWithHost();
        Assert.True(divergences == 0, $"{divergences} divergences of {CaseCount}:\n{report}");
    }

    /// <summary>Rewrites sse-golden.bin from the host CPU, when SoftKvm agrees with it on every case.</summary>
    [HostHarnessFact("SOFTKVM_X86_DIFF_WRITE_GOLDEN")]
    public void Sse_regenerate_golden_vectors_from_the_host_cpu()
    {
        var (native, divergences, report) = CompareWithHost();
        Assert.True(divergences == 0, $"{divergences} divergences of {CaseCount}:\n{report}");
        File.WriteAllBytes(GoldenPath, native);
    }

    private static (byte[] Native, int Divergences, string Report) CompareWithHost()
    {
        using var runner = new SseDiffRunner();
        return HostHarness.Compare(CaseCount, sse: true,
            i => new HostHarness.Case(SseDiffGenerator.Generate(i, out var masks), masks),
            (i, c) => (runner.Run((ulong)i, c.Code, c.Masks, out string state), state), reportLimit: 40);
    }
}

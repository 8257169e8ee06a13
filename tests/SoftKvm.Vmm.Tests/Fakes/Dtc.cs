using System.Diagnostics;

namespace SoftKvm.Vmm.Tests.Fakes;

/// <summary>Runs Debian's dtc when it is installed.</summary>
internal static class Dtc
{
    public static string? Path { get; } = Find();

    /// <summary>Decompiles a blob; returns (exit code, dts, stderr).</summary>
    public static (int ExitCode, string Dts, string Errors) Decompile(byte[] blob)
    {
        string file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"softkvm-{Guid.NewGuid():N}.dtb");
        File.WriteAllBytes(file, blob);
        try
        {
            var psi = new ProcessStartInfo(Path!, ["-I", "dtb", "-O", "dts", file])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var candidate = System.IO.Path.Combine(dir, "dtc");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

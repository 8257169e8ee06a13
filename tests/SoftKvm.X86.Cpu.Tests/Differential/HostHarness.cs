using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// The native reference (native/diffharness.c): built with the host's C compiler on first use (cached in
/// the temporary folder by a hash of its source) and run on the host CPU. Only an x86-64 Linux host with
/// a C compiler can run it; <see cref="Unavailable"/> says why otherwise.
/// </summary>
internal static class HostHarness
{
    private static readonly Lazy<string> s_binary = new(Build);

    /// <summary>Why the harness cannot run here, or null when it can.</summary>
    public static string? Unavailable =>
        RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux()
            ? $"the native reference runs on x86-64 Linux hosts only (this is {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture})"
            : FindOnPath("gcc") is null ? "gcc not found on PATH (it builds the native reference harness)" : null;

    /// <summary>A case of a differential suite: its code and the defined-flags masks.</summary>
    public readonly record struct Case(byte[] Code, (ulong Offset, ulong Mask)[] Masks);

    /// <summary>
    /// Runs <paramref name="count"/> cases of a suite on the host (<paramref name="sse"/>: the harness's
    /// SSE mode) and in SoftKvm (<paramref name="run"/>: the state hash and a description), and returns
    /// the host's hashes with the first <paramref name="reportLimit"/> divergences described.
    /// </summary>
    public static (byte[] Native, int Divergences, string Report) Compare(
        int count, bool sse, Func<int, Case> generate, Func<int, Case, (uint Hash, string State)> run, int reportLimit = 20)
    {
        var cases = new Case[count];
        var input = new MemoryStream();
        for (int i = 0; i < count; i++)
        {
            cases[i] = generate(i);
            input.Write(BitConverter.GetBytes((ulong)i));
            input.Write(BitConverter.GetBytes(cases[i].Masks.Length));
            foreach (var (offset, mask) in cases[i].Masks)
            {
                input.Write(BitConverter.GetBytes(offset));
                input.Write(BitConverter.GetBytes(mask));
            }

            input.Write(BitConverter.GetBytes(cases[i].Code.Length));
            input.Write(cases[i].Code);
        }

        byte[] native = RunNative(input.ToArray(), sse);
        Assert.Equal(count * 4, native.Length);
        var report = new StringBuilder();
        int divergences = 0;
        for (int i = 0; i < count; i++)
        {
            var (hash, state) = run(i, cases[i]);
            if (hash != BitConverter.ToUInt32(native, i * 4) && ++divergences <= reportLimit)
            {
                report.Append($"case {i}: {Convert.ToHexString(cases[i].Code)}\nsoftkvm {state}\n");
            }
        }

        return (native, divergences, report.ToString());
    }

    private static byte[] RunNative(byte[] input, bool sse)
    {
        var psi = new ProcessStartInfo(s_binary.Value)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (sse)
        {
            psi.ArgumentList.Add("-s");
        }

        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        var errors = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(input);
        p.StandardInput.Close();
        copy.Wait();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"the native harness exited with {p.ExitCode}: {errors.Result}");
        return output.ToArray();
    }

    private static string Build()
    {
        string source = Path.Combine(Dir(), "native", "diffharness.c");
        string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(source)))[..16].ToLowerInvariant();
        string output = Path.Combine(Path.GetTempPath(), $"x86-diffharness-{hash}");
        if (File.Exists(output))
        {
            return output;
        }

        string temp = output + $".{Environment.ProcessId}.tmp";
        var psi = new ProcessStartInfo(FindOnPath("gcc")!) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "-O2", "-Wall", "-Wextra", "-Werror", "-o", temp, source })
        {
            psi.ArgumentList.Add(arg);
        }

        using var gcc = Process.Start(psi)!;
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0)
        {
            throw new InvalidOperationException($"building the native harness failed: {errors}");
        }

        File.Move(temp, output, overwrite: true);
        return output;
    }

    private static string Dir([CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Where(d => d.Length > 0).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}

/// <summary>
/// A fact that needs the native harness (skipped, with the reason, where it cannot run); with a
/// variable name, a fact that also runs only when that variable is set (tests that write files).
/// </summary>
public sealed class HostHarnessFactAttribute : FactAttribute
{
    public HostHarnessFactAttribute(string? variable = null)
    {
        if (variable is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
        {
            Skip = $"set {variable}=1 to run this (it rewrites the committed golden vectors)";
        }
        else if (HostHarness.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}

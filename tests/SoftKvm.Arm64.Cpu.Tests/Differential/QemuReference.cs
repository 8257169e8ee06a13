using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// The reference side: tools/arm64-diff/ref.c built with Debian's aarch64-linux-gnu-gcc (-static) into
/// the temp folder (cached by a hash of its sources), run under <c>qemu-aarch64 -cpu cortex-a57</c>
/// (an ARMv8.0 CPU like the one SoftKvm models), many cases per process through stdin/stdout.
/// </summary>
internal static class QemuReference
{
    private const int OutRecordSize = 8 + 16 + (33 * 8) + 512 + DiffLayout.ScratchSize;
    private static readonly Lazy<string?> s_harness = new(BuildHarness);

    /// <summary>Null when the live reference can run, otherwise why not.</summary>
    public static string? Unavailable
    {
        get
        {
            if (FindOnPath("qemu-aarch64") is null)
            {
                return "qemu-aarch64 not found on PATH (install Debian's qemu-user to run the live differential test)";
            }

            if (FindOnPath("aarch64-linux-gnu-gcc") is null)
            {
                return "aarch64-linux-gnu-gcc not found on PATH (install gcc-aarch64-linux-gnu to build the reference harness)";
            }

            return null;
        }
    }

    public static string ToolsDirectory => FindTools();

    /// <summary>Runs <paramref name="cases"/> under QEMU, in batches of <paramref name="batch"/> cases per process.</summary>
    public static DiffState[] Run(IReadOnlyList<DiffCase> cases, IReadOnlyList<DiffState> initial, int batch = 4000)
    {
        string harness = s_harness.Value ?? throw new InvalidOperationException("the reference harness could not be built");
        var results = new DiffState[cases.Count];
        for (int startIndex = 0; startIndex < cases.Count; startIndex += batch)
        {
            int count = Math.Min(batch, cases.Count - startIndex);
            RunBatch(harness, cases, initial, startIndex, count, results);
        }

        return results;
    }

    private static void RunBatch(string harness, IReadOnlyList<DiffCase> cases, IReadOnlyList<DiffState> initial, int first, int count, DiffState[] results)
    {
        var psi = new ProcessStartInfo(FindOnPath("qemu-aarch64")!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-cpu");
        psi.ArgumentList.Add("cortex-a57");
        psi.ArgumentList.Add(harness);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("qemu-aarch64 did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var writer = Task.Run(() =>
        {
            using var input = process.StandardInput.BaseStream;
            var header = new byte[8 + (33 * 8) + 512];
            for (int i = first; i < first + count; i++)
            {
                var c = cases[i];
                var s = initial[i];
                BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)c.Words.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 0);
                for (int r = 0; r < 31; r++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8 + (8 * r)), s.X[r]);
                }

                BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8 + (31 * 8)), s.Sp);
                BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8 + (32 * 8)), s.Nzcv);
                for (int v = 0; v < 64; v++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8 + (33 * 8) + (8 * v)), s.V[v]);
                }

                input.Write(header);
                input.Write(s.Scratch);
                var words = new byte[4 * c.Words.Length];
                for (int w = 0; w < c.Words.Length; w++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(words.AsSpan(4 * w), c.Words[w]);
                }

                input.Write(words);
            }

            input.Write(new byte[8]);
        });

        var output = process.StandardOutput.BaseStream;
        var record = new byte[OutRecordSize];
        for (int i = first; i < first + count; i++)
        {
            int read = 0;
            while (read < record.Length)
            {
                int n = output.Read(record, read, record.Length - read);
                if (n == 0)
                {
                    process.WaitForExit();
                    throw new InvalidOperationException(
                        $"the reference stopped after {i - first} of {count} cases (exit {process.ExitCode}): {stderr.Result}");
                }

                read += n;
            }

            results[i] = Parse(record);
        }

        writer.Wait();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the reference exited with {process.ExitCode}: {stderr.Result}");
        }
    }

    private static DiffState Parse(byte[] r)
    {
        var s = new DiffState
        {
            Signal = (int)BinaryPrimitives.ReadUInt32LittleEndian(r),
            FaultPc = BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(8)),
        };
        for (int i = 0; i < 31; i++)
        {
            s.X[i] = BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(24 + (8 * i)));
        }

        s.Sp = BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(24 + (31 * 8)));
        s.Nzcv = (uint)BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(24 + (32 * 8)));
        for (int v = 0; v < 64; v++)
        {
            s.V[v] = BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(24 + (33 * 8) + (8 * v)));
        }

        r.AsSpan(24 + (33 * 8) + 512, DiffLayout.ScratchSize).CopyTo(s.Scratch);
        if (s.Signal == 0)
        {
            s.FaultPc = 0;
        }

        return s;
    }

    private static string? BuildHarness()
    {
        if (Unavailable is not null)
        {
            return null;
        }

        string tools = ToolsDirectory;
        string[] sources = [Path.Combine(tools, "ref.c"), Path.Combine(tools, "ref_asm.S")];
        using var sha = SHA256.Create();
        foreach (var file in sources)
        {
            var bytes = File.ReadAllBytes(file);
            sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
        }

        sha.TransformFinalBlock([], 0, 0);
        string hash = Convert.ToHexString(sha.Hash!)[..16].ToLowerInvariant();
        string output = Path.Combine(Path.GetTempPath(), $"arm64-diff-ref-{hash}");
        if (File.Exists(output))
        {
            return output;
        }

        string temp = output + $".{Environment.ProcessId}.tmp";
        var psi = new ProcessStartInfo(FindOnPath("aarch64-linux-gnu-gcc")!)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-static", "-O2", "-Wall", "-Werror", "-o", temp, sources[0], sources[1] })
        {
            psi.ArgumentList.Add(arg);
        }

        using var gcc = Process.Start(psi)!;
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0)
        {
            throw new InvalidOperationException($"building the reference harness failed: {errors}");
        }

        File.Move(temp, output, overwrite: true);
        return output;
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, name)))
            {
                return Path.Combine(dir, name);
            }
        }

        return null;
    }

    private static string FindTools([CallerFilePath] string source = "")
    {
        var dir = File.Exists(source) ? new DirectoryInfo(Path.GetDirectoryName(source)!) : new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tools", "arm64-diff")))
        {
            dir = dir.Parent;
        }

        return dir is null
            ? throw new DirectoryNotFoundException("tools/arm64-diff not found above the test directory")
            : Path.Combine(dir.FullName, "tools", "arm64-diff");
    }
}

using System.CommandLine;
using System.Diagnostics;
using SoftKvm.Core.Errors;
using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Runner;
using SoftKvm.Vmm.Snapshots;

namespace SoftKvm.Cli;

/// <summary>
/// Snapshots on the command line (docs/snapshots.md): <c>run --snapshot FILE --snapshot-on-output TEXT</c>
/// (or Ctrl-A s at a terminal) stops every vCPU, completes their last exits, writes the snapshot and ends
/// with 0; <c>softkvm restore FILE</c> builds the machine the snapshot describes and runs on from there.
/// </summary>
internal sealed partial class RunCommand
{
    // The restored runner's exit counts (the snapshot's); zero for a run that was not restored.
    private VmmExitCounts _exitsSeenBefore;

    /// <summary><c>softkvm restore FILE</c>: restores and runs; returns the exit code.</summary>
    public int ExecuteRestore(ParseResult parse, RunOptions o, Argument<string> file, Option<string?> arch)
    {
        try
        {
            string path = parse.GetValue(file)!;
            InputFiles.Check(path, "snapshot");
            CheckSnapshotOptions(parse, o);
            string? expected = parse.GetValue(arch) is { } a ? (a.Trim().ToLowerInvariant() is "aarch64" ? "arm64" : a.Trim().ToLowerInvariant()) : null;
            if (expected is not null)
            {
                catalog.Get(expected);
            }

            return Run(io => Restore(path, expected, io), parse, o);
        }
        catch (Exception e)
        {
            return Report(e);
        }
    }

    private IMachine Restore(string path, string? expectedArchitecture, MachineIo io)
    {
        var watch = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            var machine = MachineSnapshot.Restore(stream, path, catalog, io, out _exitsSeenBefore, expectedArchitecture);
            env.Error.WriteLine($"softkvm: restored {path} ({machine.Config.Architecture}, {machine.Config.Cpus} vCPUs, {SizeText.Of(machine.Config.MemorySize)}) in {Took(watch, cpu)}");
            return machine;
        }
        catch (IOException e)
        {
            throw new InputFileException($"snapshot '{path}' cannot be read: {InputFiles.OneLine(e.Message)}");
        }
    }

    private static void CheckSnapshotOptions(ParseResult parse, RunOptions o)
    {
        if (parse.GetValue(o.SnapshotOnOutput) is { } text)
        {
            if (parse.GetValue(o.Snapshot) is null)
            {
                throw new ConfigurationException("--snapshot-on-output needs --snapshot FILE (where the snapshot goes)");
            }

            if (text.Length == 0)
            {
                throw new ConfigurationException("--snapshot-on-output needs a non-empty text");
            }
        }
    }

    // What stops the run for a snapshot (the output trigger and Ctrl-A s); null without --snapshot.
    private Action? SnapshotRequest(VmRunner runner, ParseResult parse, RunOptions o) =>
        parse.GetValue(o.Snapshot) is null ? null : () => runner.RequestStop(0, StopReason.Snapshot, "snapshot requested");

    private int WriteSnapshot(IMachine machine, VmRunner runner, string path)
    {
        if (!runner.VcpuThreadsStopped)
        {
            env.Error.WriteLine("softkvm: a vCPU did not stop; no snapshot written");
            return ExitCodes.InternalError;
        }

        var watch = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long bytes;

        // Written beside and renamed over: no half-written snapshot is left behind, and a restored VM whose memory is
        // mapped from the file it would overwrite (restore a.snap --snapshot a.snap) keeps reading the old file.
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            runner.CompletePendingExits();
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                bytes = MachineSnapshot.Save(machine, stream, runner.ExitsSeen);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
            {
                throw new InputFileException($"--snapshot '{path}' cannot be written: {InputFiles.OneLine(e.Message)}");
            }

            throw;
        }

        env.Error.WriteLine($"softkvm: snapshot written to {path} ({bytes} bytes) in {Took(watch, cpu)}");
        return ExitCodes.Success;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the error that made the save fail is the one to report
        }
    }

    // "N ms (M ms CPU)": the wall time and the process's CPU time (every thread) since the start.
    private static string Took(Stopwatch watch, TimeSpan cpuAtStart) =>
        $"{watch.Elapsed.TotalMilliseconds:0} ms ({(Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalMilliseconds:0} ms CPU)";
}

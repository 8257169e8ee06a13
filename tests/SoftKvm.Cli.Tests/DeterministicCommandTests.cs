using System.Diagnostics;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// <c>softkvm run --deterministic</c> (docs/snapshots.md#deterministic-execution) with guests whose output
/// depends on timing (timer ticks counted against loop iterations, the counter and TSC folded into hashes, IPIs,
/// halts): two runs give the same console and statistics, on arm64 and x86, interpreted or translated; a run
/// restored from a snapshot taken in deterministic execution goes on exactly as the uninterrupted run; console
/// input recorded with <c>--record</c> and fed back with <c>--replay</c> gives the same console.
/// </summary>
public sealed class DeterministicCommandTests : IDisposable
{
    private const string Marker = "DETERMINISM-MARKER";

    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-deterministic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Arm64Guest => Path.Combine(RealCli.GuestsDir("arm64"), "determinism", "determinism.elf");

    private static string X86Guest => Path.Combine(RealCli.GuestsDir("x86"), "kvm", "determinism.elf");

    private static string[] GuestArgs(string arch, int vcpus) => arch == "arm64"
        ? ["--kernel", Arm64Guest, "--smp", vcpus.ToString(), "--memory", "64M", "--deterministic"]
        : ["--arch", "x86_64", "--x86-virtio", "mmio", "--kernel", X86Guest, "--smp", vcpus.ToString(), "--memory", "64M", "--deterministic"];

    private static int ExpectedCode(string arch) => arch == "arm64" ? 0 : 1; // x86: isa-debug-exit with 0

    [Theory]
    [InlineData("arm64", 2)]
    [InlineData("arm64", 3)]
    [InlineData("x86_64", 3)]
    public void TwoDeterministicRunsGiveTheSameConsoleAndStatistics(string arch, int vcpus)
    {
        var first = RealCli.Run(["run", .. GuestArgs(arch, vcpus), "--stats"]);
        var second = RealCli.Run(["run", .. GuestArgs(arch, vcpus), "--stats"]);
        Assert.Equal(ExpectedCode(arch), first.Code);
        Assert.Contains("determinism guest: done", first.Serial);
        Assert.Contains($"determinism guest: {vcpus} ", first.Serial);
        Assert.Equal(first.Serial, second.Serial);
        Assert.Equal(first.Out, second.Out);
        Assert.Contains("halt_wakeup ", first.Out);
    }

    [Fact]
    public void TheClocksStartAtTheEpoch()
    {
        var run = RealCli.Run(["run", .. GuestArgs("arm64", 2)]);
        Assert.Contains("PL031 seconds 1767225600\n", run.Serial.Replace("\r", ""));   // 2026-01-01T00:00:00Z, the default epoch
        var later = RealCli.Run(["run", .. GuestArgs("arm64", 2), "--deterministic-epoch", "2030-06-01T12:00:00Z"]);
        Assert.Contains("PL031 seconds 1906545600\n", later.Serial.Replace("\r", ""));
        var x86 = RealCli.Run(["run", .. GuestArgs("x86_64", 2), "--deterministic-epoch", "1906632001"]);
        Assert.Contains("CMOS time 0x00120001\n", x86.Serial); // hour 12, minute 0, second 1 (BCD)
    }

    [Theory]
    [InlineData("arm64", 3)]
    [InlineData("x86_64", 2)]
    public void InterpretedAndTranslatedRunsAreTheSame(string arch, int vcpus)
    {
        var translated = RunProcess(null, ["run", .. GuestArgs(arch, vcpus), "--stats"]);
        var interpreted = RunProcess("0", ["run", .. GuestArgs(arch, vcpus), "--stats"]);
        Assert.Equal(ExpectedCode(arch), translated.Code);
        Assert.Contains("determinism guest: done", translated.Out);
        Assert.Equal(translated.Out, interpreted.Out);
    }

    [Theory]
    [InlineData("arm64", 3)]
    [InlineData("x86_64", 3)]
    public void ARunRestoredFromItsSnapshotGoesOnAsTheUninterruptedRun(string arch, int vcpus)
    {
        string snapshot = Path.Combine(_dir, "vm.snap");
        var whole = RealCli.Run(["run", .. GuestArgs(arch, vcpus)]);
        var first = RealCli.Run(["run", .. GuestArgs(arch, vcpus), "--snapshot", snapshot, "--snapshot-on-output", Marker]);
        Assert.Equal(0, first.Code);
        Assert.EndsWith(Marker, first.Serial); // stopped at the marker's last byte

        var rest = RealCli.Run("restore", snapshot, "--deterministic");
        Assert.Equal(ExpectedCode(arch), rest.Code);
        Assert.Equal(whole.Serial, first.Serial + rest.Serial);
    }

    [Fact]
    public void ADeterministicSnapshotIsRestoredOnlyWithDeterministic()
    {
        string snapshot = Path.Combine(_dir, "vm.snap");
        Assert.Equal(0, RealCli.Run(["run", .. GuestArgs("arm64", 2), "--snapshot", snapshot, "--snapshot-on-output", Marker]).Code);
        AssertRefused(RealCli.Run("restore", snapshot), "restore it with --deterministic");

        string threaded = Path.Combine(_dir, "threaded.snap");
        Assert.Equal(0, RealCli.Run("run", "--kernel", Arm64Guest, "--smp", "2", "--memory", "64M", "--snapshot", threaded, "--snapshot-on-output", Marker).Code);
        AssertRefused(RealCli.Run("restore", threaded, "--deterministic"), "restore it without --deterministic");
    }

    [Fact]
    public void RecordedInputReplaysToTheSameConsole()
    {
        string record = Path.Combine(_dir, "input.rec");
        var live = RealCli.RunWithInput(new MemoryStream("hi."u8.ToArray()), ["run", .. GuestArgs("arm64", 2), "--record", record]);
        Assert.Equal(0, live.Code);
        Assert.Contains("echo '.' at tick ", live.Serial);
        Assert.StartsWith("softkvm-input-record 1\n", File.ReadAllText(record));

        // The replay ignores the console's input and gets the recorded bytes at the same points.
        var replay = RealCli.RunWithInput(new MemoryStream("zzzzz"u8.ToArray()), ["run", .. GuestArgs("arm64", 2), "--replay", record]);
        Assert.Equal(0, replay.Code);
        Assert.Equal(live.Serial, replay.Serial);

        var none = RealCli.Run(["run", .. GuestArgs("arm64", 2)]);
        Assert.Contains("echo: no input", none.Serial);
    }

    [Fact]
    public void BadRecordFilesAndOptionsAreOneLineAndExitCode2()
    {
        string foreign = Path.Combine(_dir, "foreign.rec");
        File.WriteAllText(foreign, "hello, I am no record\n");
        AssertRefused(RealCli.Run(["run", .. GuestArgs("arm64", 2), "--replay", foreign]), "is not a softkvm input record");

        string corrupt = Path.Combine(_dir, "corrupt.rec");
        File.WriteAllText(corrupt, "softkvm-input-record 1\n5 100 68\n3 200 zz\n");
        AssertRefused(RealCli.Run(["run", .. GuestArgs("arm64", 2), "--replay", corrupt]), "line 3 is not 'ROUND NANOSECONDS HEX'");

        AssertRefused(RealCli.Run(["run", .. GuestArgs("arm64", 2), "--replay", Path.Combine(_dir, "missing.rec")]), "missing.rec");
        AssertRefused(RealCli.Run("run", "--kernel", Arm64Guest, "--record", Path.Combine(_dir, "r.rec")), "use it with --deterministic");
        AssertRefused(RealCli.Run(["run", .. GuestArgs("arm64", 2), "--record", foreign, "--replay", foreign]), "exclude each other");
        AssertRefused(RealCli.Run(["run", .. GuestArgs("arm64", 2), "--deterministic-epoch", "yesterday"]), "invalid --deterministic-epoch");
        AssertRefused(RealCli.Run("run", "--kernel", Arm64Guest, "--deterministic-epoch", "0"), "use it with --deterministic");
        AssertRefused(RealCli.Run(["run", .. GuestArgs("arm64", 2), "--gdb", "tcp::0"]), "--gdb and --deterministic");
    }

    private static void AssertRefused((int Code, string Serial, string Out, string Error) run, string message)
    {
        Assert.Equal(2, run.Code);
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("softkvm: ", line);
        Assert.Contains(message, line);
    }

    // The real command in a new process (the engines are chosen once per process by SOFTKVM_TRANSLATE).
    private static (int Code, string Out) RunProcess(string? translate, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, StandardOutputEncoding = Encoding.UTF8 };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "softkvm.dll"));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        if (translate is not null)
        {
            start.Environment["SOFTKVM_TRANSLATE"] = translate;
        }
        else
        {
            start.Environment.Remove("SOFTKVM_TRANSLATE");
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        _ = error.Result;
        return (process.ExitCode, output);
    }
}

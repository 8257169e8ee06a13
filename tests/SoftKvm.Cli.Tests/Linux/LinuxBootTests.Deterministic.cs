using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 24's determinism end to end (docs/snapshots.md#deterministic-execution): Debian's arm64 kernel on 2 vCPUs
/// booted with <c>--deterministic</c> twice. The first run takes commands at its shell from the console and records
/// them (<c>--record</c>); the second replays them (<c>--replay</c>) without a console. Both print the identical
/// console, from the first kernel line to the power-off, and identical statistics.
/// </summary>
public sealed partial class LinuxBootTests
{
    [SkippableFact]
    public void TwoDeterministicBootsOnTwoVcpusPrintTheSameConsoleAndStatistics()
    {
        string outDir = Inputs("arm64");
        string record = Path.Combine(Path.GetTempPath(), $"softkvm-linux-{Guid.NewGuid():N}.rec");
        string[] machine =
        [
            "run", "--kernel", Path.Combine(outDir, "vmlinuz"), "--initrd", Path.Combine(outDir, "initrd.gz"), "--append", "console=ttyAMA0",
            "--smp", "2", "--memory", "512M", "--deterministic", "--stats",
        ];
        try
        {
            var live = new StringBuilder();
            using (var vm = StartSoftKvm([.. machine, "--record", record], live))
            {
                try
                {
                    WaitFor(live, Marker, TimeSpan.FromMinutes(10));
                    Send(vm, "grep -c ^processor /proc/cpuinfo; date -u +DATE-%Y-%m-%d; cat /proc/uptime");
                    WaitFor(live, "\nDATE-2026-01-01\n", TimeSpan.FromMinutes(2), normalise: true); // the fixed epoch
                    PowerOff(vm);
                }
                finally
                {
                    KillIfRunning(vm);
                }
            }

            var replayed = new StringBuilder();
            using (var vm = StartSoftKvm([.. machine, "--replay", record], replayed))
            {
                try
                {
                    Assert.True(vm.WaitForExit(TimeSpan.FromMinutes(10)), "the replayed run did not power off");
                    vm.WaitForExit();
                    Assert.Equal(0, vm.ExitCode);
                }
                finally
                {
                    KillIfRunning(vm);
                }
            }

            string first = live.ToString(), second = replayed.ToString();
            Assert.Contains("\nexits ", first);
            Assert.Contains("\n2\n", first.Replace("\r", ""));
            Assert.Equal(first, second);
        }
        finally
        {
            File.Delete(record);
        }
    }
}

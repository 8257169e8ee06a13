using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 24 end to end (docs/snapshots.md): Debian's arm64 kernel on 2 vCPUs with 512 MiB and a virtio disk,
/// snapshotted when it prints the boot marker, restored in a new process that finishes the boot: the shell
/// answers, both CPUs, the timer and the disk work, and poweroff ends the restored run with 0.
/// </summary>
public sealed partial class LinuxBootTests
{
    [SkippableFact]
    public void ASnapshotAtTheBootMarkerRestoredInANewProcessFinishesTheBoot()
    {
        string outDir = Inputs("arm64");
        string snapshot = Path.Combine(Path.GetTempPath(), $"softkvm-linux-{Guid.NewGuid():N}.snap");
        try
        {
            var first = RunProcess(
                "dotnet",
                [
                    Path.Combine(AppContext.BaseDirectory, "softkvm.dll"), "run", "--kernel", Path.Combine(outDir, "vmlinuz"),
                    "--initrd", Path.Combine(outDir, "initrd.gz"), "--append", "console=ttyAMA0", "--smp", "2", "--memory", "512M",
                    "--disk", Path.Combine(outDir, "disk.img"), "--serial", "none", "--snapshot", snapshot, "--snapshot-on-output", Marker,
                ],
                TimeSpan.FromMinutes(10));
            Assert.True(first.Code == 0, "the run to the snapshot failed: " + first.Output);
            Assert.Contains("softkvm: snapshot written to", first.Output);

            var console = new StringBuilder();
            using var vm = StartSoftKvm(["restore", snapshot], console);
            try
            {
                WaitFor(console, "softkvm: restored", TimeSpan.FromMinutes(2));
                Send(vm, "uname -a");
                WaitFor(console, "Linux (none) ", TimeSpan.FromMinutes(2));
                Send(vm, "grep -c ^processor /proc/cpuinfo");
                WaitFor(console, "\n2\n", TimeSpan.FromMinutes(2), normalise: true);
                Send(vm, "sleep 1; dd if=/dev/vda bs=4096 count=8 2>/dev/null | wc -c");
                WaitFor(console, "\n32768\n", TimeSpan.FromMinutes(2), normalise: true);
                PowerOff(vm);
            }
            finally
            {
                KillIfRunning(vm);
            }
        }
        finally
        {
            File.Delete(snapshot);
        }
    }
}

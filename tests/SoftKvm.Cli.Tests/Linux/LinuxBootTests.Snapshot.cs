using System.Globalization;
using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 24 end to end (docs/snapshots.md): Debian's kernel with 512 MiB and a virtio disk, snapshotted when it
/// prints the boot marker, restored in a new process that finishes the boot: the shell answers, the CPUs, the
/// timer and the disk work, and poweroff ends the restored run with 0. On arm64 with 2 vCPUs the disk is a
/// virtio-mmio device, or with --virtio-pci a virtio-pci function whose MSI-X vectors are LPIs through the ITS;
/// on the PC (its default machine) a virtio-pci function with MSI-X to the local APICs.
/// </summary>
public sealed partial class LinuxBootTests
{
    [SkippableFact]
    public void ASnapshotAtTheBootMarkerRestoredInANewProcessFinishesTheBoot() =>
        SnapshotAtTheMarkerAndFinish("arm64", ["--append", "console=ttyAMA0"], 2);

    [SkippableFact]
    public void AnArm64VirtioPciSnapshotRestoredInANewProcessFinishesTheBoot() =>
        SnapshotAtTheMarkerAndFinish("arm64", ["--append", "console=ttyAMA0", "--gic", "v3", "--virtio-pci"], 2);

    [SkippableFact]
    public void AnAmd64SnapshotOnThePcWithAVirtioPciDiskRestoredInANewProcessFinishesTheBoot() =>
        SnapshotAtTheMarkerAndFinish("x86_64", ["--arch", "x86_64", "--append", "console=ttyS0"], 1);

    private static void SnapshotAtTheMarkerAndFinish(string arch, string[] machine, int cpus)
    {
        string outDir = Inputs(arch);
        string snapshot = Path.Combine(Path.GetTempPath(), $"softkvm-linux-{Guid.NewGuid():N}.snap");
        try
        {
            var first = RunProcess(
                "dotnet",
                [
                    Path.Combine(AppContext.BaseDirectory, "softkvm.dll"), "run", "--kernel", Path.Combine(outDir, "vmlinuz"),
                    "--initrd", Path.Combine(outDir, "initrd.gz"), .. machine, "--smp", cpus.ToString(CultureInfo.InvariantCulture), "--memory", "512M",
                    "--disk", Path.Combine(outDir, "disk.img"), "--serial", "none", "--snapshot", snapshot, "--snapshot-on-output", Marker,
                ],
                TimeSpan.FromMinutes(arch == "arm64" ? 10 : 30));
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
                WaitFor(console, $"\n{cpus}\n", TimeSpan.FromMinutes(2), normalise: true);

                // Blocks the boot never read: they come through the restored queues (and, on virtio-pci, MSI-X).
                Send(vm, "sleep 1; dd if=/dev/vda bs=4096 skip=9000 count=8 2>/dev/null | wc -c");
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

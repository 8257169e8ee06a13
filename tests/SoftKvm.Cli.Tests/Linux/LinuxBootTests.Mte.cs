using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 22's MTE end to end: Debian's arm64 kernel on `--cpu max` runs guests/linux/mte/mte-user.c (built here with
/// the cross gcc, static, and put on an ext4 disk of its own): the kernel's MTE ABI gives a PROT_MTE mapping with tag 0,
/// IRG/STG/LDG work on it, a load with the wrong tag under prctl's synchronous mode is SIGSEGV SEGV_MTESERR with the
/// tagged address (SA_EXPOSE_TAGBITS), a store with the wrong tag under the asynchronous mode is SIGSEGV SEGV_MTEAERR
/// at the next kernel entry (the kernel reads TFSRE0_EL1), and a child's copy-on-write copy of the page keeps its tag.
/// </summary>
public sealed partial class LinuxBootTests
{
    [SkippableFact]
    public void DebianKernelOnCpuMaxGivesUserSpaceMemoryTagging()
    {
        string outDir = Inputs("arm64");
        string work = Path.Combine(Path.GetTempPath(), "softkvm-mte-user-" + Environment.ProcessId);
        Directory.CreateDirectory(Path.Combine(work, "root"));
        try
        {
            Skip.IfNot(
                (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "aarch64-linux-gnu-gcc"))),
                "aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu) is not installed");
            var gcc = RunProcess("aarch64-linux-gnu-gcc",
                ["-static", "-O2", "-march=armv8.5-a+memtag", "-o", Path.Combine(work, "root", "mte-user"),
                 Path.Combine(RepositoryRoot(), "guests", "linux", "mte", "mte-user.c")],
                TimeSpan.FromMinutes(2));
            Assert.True(gcc.Code == 0, "building mte-user.c failed: " + gcc.Output);
            string disk = Path.Combine(work, "mte.img");
            var mke2fs = RunProcess("mke2fs", ["-q", "-t", "ext4", "-d", Path.Combine(work, "root"), "-F", disk, "16M"], TimeSpan.FromMinutes(1));
            Assert.True(mke2fs.Code == 0, "mke2fs failed: " + mke2fs.Output);

            var console = new StringBuilder();
            using var vm = StartSoftKvm(
                [
                    "run", "--kernel", Path.Combine(outDir, "vmlinuz"), "--initrd", Path.Combine(outDir, "initrd.gz"),
                    "--append", "console=ttyAMA0", "--cpu", "max", "--smp", "2", "--disk", disk,
                ],
                console);
            try
            {
                WaitFor(console, Marker, TimeSpan.FromMinutes(10));
                Send(vm, "mount -t ext4 /dev/vda /mnt && /mnt/mte-user && umount /mnt");
                WaitFor(console, "\nMTE-USER-DONE\n", TimeSpan.FromMinutes(3), normalise: true);
                PowerOff(vm);
            }
            finally
            {
                KillIfRunning(vm);
            }

            var lines = console.ToString().Replace("\r", "").Split('\n').Where(l => l.StartsWith("MTE ", StringComparison.Ordinal)).ToList();
            Assert.Equal(
                [
                    "MTE hwcap2 1",
                    "MTE prctl sync 0",
                    "MTE fresh tag 0",
                    "MTE irg tag nonzero 1, read back 42",
                    "MTE sync load: signals 1 code 9 addr matches 1",
                    "MTE prctl async 0",
                    "MTE async store: signals 1 code 8, the store happened 1",
                    "MTE fork keeps the tag 1",
                ],
                lines);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}

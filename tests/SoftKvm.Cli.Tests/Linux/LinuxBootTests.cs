using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace SoftKvm.Cli.Tests.Linux;

/// <summary>
/// Issue 9 end to end: Debian's arm64 kernel and a busybox initramfs (guests/linux/build.sh) boot on
/// `softkvm run --smp 4` to the marker line; then, through the console, `uname -a`, 4 CPUs in
/// /proc/cpuinfo, the host's date through the PL031, an ext4 round trip on a virtio-blk disk and
/// `poweroff -f` (exit code 0), and the file is in the image on the host afterwards. Issue 20 does the same
/// with Debian's amd64 kernel (`build.sh x86_64`) on the PC with 1 and 4 vCPUs: the date through the CMOS
/// RTC, the disk a virtio-pci function (the PC's default; that kernel cannot be told about virtio-mmio
/// devices on its command line), the power-off through ACPI S5. The inputs come from Debian's package
/// registry, so the tests run only when SOFTKVM_LINUX_TEST=1 (CI sets it) and report why when they do not run.
/// </summary>
[Collection(LinuxBootTests.Collection)]
public sealed partial class LinuxBootTests
{
    /// <summary>The xunit collection of the tests that boot Linux: one boot at a time (a boot keeps a core busy for minutes).</summary>
    internal const string Collection = "Linux boots";

    private const string Marker = "SOFTKVM-LINUX-BOOT-OK";

    [SkippableFact]
    public void DebianKernelBootsToBusyboxAndRoundTripsADisk() =>
        BootAndRoundTrip("arm64", ["--append", "console=ttyAMA0"], 4);

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(4)]
    public void DebianAmd64KernelBootsToBusyboxAndRoundTripsADisk(int cpus) =>
        BootAndRoundTrip("x86_64", ["--arch", "x86_64", "--append", "console=ttyS0"], cpus);

    private static void BootAndRoundTrip(string arch, string[] machine, int cpus)
    {
        string outDir = Inputs(arch);
        string text = $"softkvm-{arch}-{cpus}";
        var console = new StringBuilder();
        using var vm = StartSoftKvm(
            [
                "run", "--kernel", Path.Combine(outDir, "vmlinuz"), "--initrd", Path.Combine(outDir, "initrd.gz"),
                .. machine, "--smp", cpus.ToString(CultureInfo.InvariantCulture), "--disk", Path.Combine(outDir, "disk.img"), "--stats",
            ],
            console);
        try
        {
            WaitFor(console, Marker, TimeSpan.FromMinutes(arch == "arm64" ? 10 : 30));
            Send(vm, "uname -a");
            WaitFor(console, "Linux (none) ", TimeSpan.FromMinutes(2));
            Send(vm, "grep -c ^processor /proc/cpuinfo");
            WaitFor(console, $"\n{cpus}\n", TimeSpan.FromMinutes(2), normalise: true);
            Send(vm, "date -u +DATE-%Y-%m-%d");
            WaitFor(console, "\nDATE-" + DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "\n", TimeSpan.FromMinutes(2), normalise: true);

            // Written, synced and unmounted, then read back from a fresh mount (the page cache is gone with the
            // unmount, so the bytes come from the device); the text names the run, whose image another run shares.
            Send(vm, $"mount -t ext4 /dev/vda /mnt && echo {text} > /mnt/hello.txt && sync && umount /mnt && echo DISK-WRITTEN");
            WaitFor(console, "\nDISK-WRITTEN\n", TimeSpan.FromMinutes(3), normalise: true);
            Send(vm, "mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt && umount /mnt && echo DISK-READ");
            WaitFor(console, "\nDISK-READ\n", TimeSpan.FromMinutes(3), normalise: true);
            WaitFor(console, $"\n{text}\n", TimeSpan.FromSeconds(5), normalise: true); // the kernel's "unmounting" line may come before DISK-READ

            PowerOff(vm);
        }
        finally
        {
            KillIfRunning(vm);
        }

        var debugfs = RunProcess("debugfs", ["-R", "cat /hello.txt", Path.Combine(outDir, "disk.img")], TimeSpan.FromMinutes(1));
        Assert.Contains(text, debugfs.Output);
    }

    /// <summary>
    /// On a real pseudo-terminal (guests/linux/interactive-check.py): Ctrl-C interrupts the guest's
    /// foreground program and SoftKvm keeps running, stdin still works after it, and Ctrl-A x ends the
    /// run with exit code 0.
    /// </summary>
    [SkippableFact]
    public void CtrlCOnATerminalIsTheGuestsAndCtrlAXEndsTheRun()
    {
        string outDir = Inputs("arm64");
        Skip.If(RunProcess("python3", ["--version"], TimeSpan.FromMinutes(1)).Code != 0, "python3 (for the pty driver) is not installed");
        var check = RunProcess(
            "python3",
            [Path.Combine(RepositoryRoot(), "guests", "linux", "interactive-check.py"), Path.Combine(AppContext.BaseDirectory, "softkvm.dll"), outDir],
            TimeSpan.FromMinutes(10));
        Assert.True(check.Code == 0, "interactive check failed:\n" + check.Output);
        Assert.Contains("PASS Ctrl-C interrupts the guest's sleep, not SoftKvm", check.Output);
        Assert.Contains("PASS Ctrl-A x ends the run with exit code 0", check.Output);
    }

    private static readonly Dictionary<string, Lazy<(int Code, string Output, string Dir)>> Builds = new()
    {
        ["arm64"] = new(() => BuildInputs("arm64")),
        ["x86_64"] = new(() => BuildInputs("x86_64")),
    };

    // Per checkout (a hash of its path in the directory name): test runs of two checkouts at once neither rebuild
    // nor write each other's disk image.
    private static (int Code, string Output, string Dir) BuildInputs(string arch)
    {
        string checkout = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(RepositoryRoot())))[..8].ToLowerInvariant();
        string outDir = Path.Combine(Path.GetTempPath(), $"softkvm-linux-test-{arch}-{checkout}");
        var build = RunProcess("bash", [Path.Combine(RepositoryRoot(), "guests", "linux", "build.sh"), arch, outDir], TimeSpan.FromMinutes(5));
        return (build.Code, build.Output, outDir);
    }

    // The kernel, initramfs and disk image of arch, built once per test run; skips when they cannot be fetched.
    internal static string Inputs(string arch)
    {
        Skip.If(
            Environment.GetEnvironmentVariable("SOFTKVM_LINUX_TEST") != "1",
            $"set SOFTKVM_LINUX_TEST=1 to boot Debian's {(arch == "arm64" ? "arm64" : "amd64")} kernel (needs apt access to fetch it)");
        var build = Builds[arch].Value;
        Skip.If(build.Code == 3, "the Debian packages could not be fetched: " + build.Output.Trim());
        Assert.True(build.Code == 0, "guests/linux/build.sh failed: " + build.Output);
        return build.Dir;
    }

    /// <summary>Starts the built softkvm with <paramref name="args"/>, its stdout and stderr collected in <paramref name="console"/>.</summary>
    internal static Process StartSoftKvm(IEnumerable<string> args, StringBuilder console)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "softkvm.dll"));
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var vm = Process.Start(psi)!;
        vm.OutputDataReceived += (_, e) => { lock (console) { console.AppendLine(e.Data); } };
        vm.ErrorDataReceived += (_, e) => { lock (console) { console.AppendLine(e.Data); } };
        vm.BeginOutputReadLine();
        vm.BeginErrorReadLine();
        return vm;
    }

    /// <summary>Powers the guest off from its shell and checks that softkvm ends with exit code 0.</summary>
    internal static void PowerOff(Process vm)
    {
        Send(vm, "poweroff -f");
        Assert.True(vm.WaitForExit(TimeSpan.FromMinutes(2)), "softkvm did not exit after poweroff -f");
        vm.WaitForExit();
        Assert.Equal(0, vm.ExitCode);
    }

    /// <summary>Kills softkvm (and its children) when a test ends before the guest powered off.</summary>
    internal static void KillIfRunning(Process vm)
    {
        if (!vm.HasExited)
        {
            vm.Kill(entireProcessTree: true);
        }
    }

    internal static void Send(Process vm, string line)
    {
        vm.StandardInput.Write(line + "\n");
        vm.StandardInput.Flush();
    }

    internal static void WaitFor(StringBuilder console, string text, TimeSpan timeout, bool normalise = false)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            string seen;
            lock (console)
            {
                seen = console.ToString();
            }

            if (normalise)
            {
                seen = seen.Replace("\r", "");
            }

            if (seen.Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            Thread.Sleep(200);
        }

        lock (console)
        {
            string tail = console.ToString();
            Assert.Fail($"'{text.Trim()}' did not appear within {timeout}; console tail:\n{tail[Math.Max(0, tail.Length - 3000)..]}");
        }
    }

    private static (int Code, string Output) RunProcess(string file, string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"{file} timed out after {timeout}");
        }

        return (p.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
    }

    private static string RepositoryRoot([CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "guests", "linux", "build.sh")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("guests/linux/build.sh not found above " + source);
    }
}

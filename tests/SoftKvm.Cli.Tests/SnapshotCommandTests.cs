using System.Diagnostics;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// <c>softkvm run --snapshot FILE --snapshot-on-output TEXT</c> and <c>softkvm restore FILE</c> with the real
/// machines: the console of the run up to the snapshot followed by the console of the restored run is exactly
/// the console of an uninterrupted run (nothing lost, nothing printed twice: every vCPU stopped at an
/// instruction boundary, the UART write that printed the text completed once); bad snapshot files are one
/// line and exit code 2.
/// </summary>
public sealed class SnapshotCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-snapshot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SnapshotPath(string name = "vm.snap") => Path.Combine(_dir, name);

    [Theory]
    [InlineData("snapshot.elf", "snapshot.expected.txt", 1, "v3", "SNAPSHOT-MARKER")]   // registers, FP/SIMD, memory
    [InlineData("snapshot.elf", "snapshot.expected.txt", 2, "v2", "round 3 ")]          // GICv2, a vCPU left powered off
    [InlineData("timer.elf", "timer.expected.txt", 1, "v3", "timer: start")]            // the generic timer and the counter go on
    [InlineData("psci.elf", "psci.expected.txt", 4, "v3", "cpu_on 1 0")]                // PSCI power states of 4 vCPUs
    [InlineData("mmu.elf", "mmu.expected.txt", 1, "v2", "user hi")]                     // stage-1 MMU on, EL0 code
    [InlineData("its/its.elf", "its/its.expected.txt", 4, "v3", "MOVI:")]               // the ITS, its tables and LPIs
    [InlineData("pmu/pmu.elf", "pmu/pmu.expected.txt", 4, "v3", "SW_INCR:")]            // the PMU's counters
    public void RunUpToTheTextThenRestoreGivesTheWholeRunsConsole(string guest, string expectedFile, int vcpus, string gic, string text)
    {
        string dir = RealCli.GuestsDir("arm64");
        string expected = File.ReadAllText(Path.Combine(dir, expectedFile)).Replace("4 vCPUs", $"{vcpus} vCPUs");
        string snapshot = SnapshotPath();

        var first = RealCli.Run("run", "--kernel", Path.Combine(dir, guest), "--smp", vcpus.ToString(), "--gic", gic, "--memory", "64M",
            "--snapshot", snapshot, "--snapshot-on-output", text);
        Assert.Equal(0, first.Code);
        Assert.Contains(text, first.Serial);
        Assert.StartsWith($"softkvm: snapshot written to {snapshot}", first.Error);
        Assert.True(expected.StartsWith(first.Serial.Replace("\r", ""), StringComparison.Ordinal), $"the run before the snapshot printed: {first.Serial}");
        Assert.True(first.Serial.Length < expected.Length);

        var second = RealCli.Run("restore", snapshot);
        Assert.Equal(0, second.Code);
        Assert.StartsWith($"softkvm: restored {snapshot} (arm64, {vcpus} vCPUs, 64 MiB)", second.Error);
        Assert.Equal(expected, (first.Serial + second.Serial).Replace("\r", ""));
    }

    [Theory]
    [InlineData("compute32", 1, "crc32:")]              // 32-bit protected mode, memory
    [InlineData("compute32", 4, "collatz-steps:")]      // three APs waiting for INIT/SIPI
    [InlineData("longmode", 1, "breakpoints:")]         // long mode: segment caches, EFER, paging, debug registers
    [InlineData("pcplat", 2, "fw_cfg nb_cpus")]         // fw_cfg, ACPI PM, PCI, the irqchip, pc-testdev
    public void X86RunUpToTheTextThenRestoreGivesTheWholeRunsConsole(string guest, int vcpus, string text)
    {
        string dir = RealCli.GuestsDir("x86");
        string expected = File.ReadAllText(Path.Combine(dir, guest + ".expected"));
        string snapshot = SnapshotPath();

        var first = RealCli.Run("run", "--arch", "x86_64", "--x86-virtio", "mmio", "--kernel", Path.Combine(dir, guest + ".elf"), "--smp", vcpus.ToString(), "--memory", "64M",
            "--snapshot", snapshot, "--snapshot-on-output", text);
        Assert.Equal(0, first.Code);
        Assert.True(expected.StartsWith(first.Serial.Replace("\r", ""), StringComparison.Ordinal), $"the run before the snapshot printed: {first.Serial}");
        Assert.True(first.Serial.Length < expected.Length);

        var second = RealCli.Run("restore", snapshot, "--arch", "x86_64");
        Assert.Equal(1, second.Code);   // isa-debug-exit with 0, as the uninterrupted run
        Assert.StartsWith($"softkvm: restored {snapshot} (x86_64, {vcpus} vCPUs, 64 MiB)", second.Error);
        Assert.Equal(expected, (first.Serial + second.Serial).Replace("\r", ""));
    }

    // The PC's default machine: the virtio-console is a virtio-pci function on bus 0 (BARs placed by the firmware,
    // INTx through the ISR); pcplat reads the PCI bus through 0xCF8/0xCFC around the snapshot.
    [Theory]
    [InlineData("virtiopci", "class:")]                 // the BARs and the command register before the driver ran
    [InlineData("virtiopci", "FEATURES_OK accepted")]   // feature negotiation half done: selectors, driver features
    [InlineData("virtiopci", "queue 1 enabled")]        // queue addresses, size and enable; the queue is used after the restore
    [InlineData("virtiopci", "hello from")]             // a used buffer whose ISR bit the guest reads after the restore
    [InlineData("pcplat", "fw_cfg nb_cpus")]
    public void X86VirtioPciRunUpToTheTextThenRestoreGivesTheWholeRunsConsole(string guest, string text)
    {
        string dir = RealCli.GuestsDir("x86");
        string expected = File.ReadAllText(Path.Combine(dir, guest + ".expected"));
        var first = RealCli.Run("run", "--arch", "x86_64", "--kernel", Path.Combine(dir, guest + ".elf"), "--smp", "2", "--memory", "64M", "--snapshot", SnapshotPath(), "--snapshot-on-output", text);
        Assert.Equal(0, first.Code);
        Assert.True(expected.StartsWith(first.Serial.Replace("\r", ""), StringComparison.Ordinal), $"the run before the snapshot printed: {first.Serial}");
        Assert.True(first.Serial.Length < expected.Length);

        var second = RealCli.Run("restore", SnapshotPath());
        Assert.Equal(1, second.Code);
        Assert.Equal(expected, (first.Serial + second.Serial).Replace("\r", ""));
    }

    // arm64 virt with --virtio-pci: the virtio-console's MSI-X vectors go through the ITS as LPIs after the restore
    // (the function's MSI-X table and PBA, its queue vectors, the ITS's device and collection tables).
    [Theory]
    [InlineData("MSI-X enabled")]           // MSI-X on, the queue's vector set, the ITS mapping made
    [InlineData("goes through the ITS")]    // a buffer sent; its LPI arrives after the restore
    [InlineData("masked")]                  // a masked vector pending in the PBA, unmasked after the restore
    public void Arm64VirtioPciMsixRunUpToTheTextThenRestoreGivesTheWholeRunsConsole(string text)
    {
        string dir = RealCli.GuestsDir("arm64/msix");
        string expected = File.ReadAllText(Path.Combine(dir, "msix.expected.txt"));
        string[] machine = ["--kernel", Path.Combine(dir, "msix.elf"), "--smp", "4", "--gic", "v3", "--memory", "64M", "--virtio-pci", "--console", "virtio"];
        var first = RealCli.Run(["run", .. machine, "--snapshot", SnapshotPath(), "--snapshot-on-output", text]);
        Assert.Equal(0, first.Code);
        Assert.True(first.Serial.Length < expected.Length);

        var second = RealCli.Run("restore", SnapshotPath());
        Assert.Equal(0, second.Code);
        Assert.Equal(expected, (first.Serial + second.Serial).Replace("\r", ""));
    }

    [Fact]
    public void AnX86SnapshotRestoredAsArm64IsOneLineAndExitCode2()
    {
        string dir = RealCli.GuestsDir("x86");
        var first = RealCli.Run("run", "--arch", "x86_64", "--x86-virtio", "mmio", "--kernel", Path.Combine(dir, "compute32.elf"), "--memory", "16M", "--snapshot", SnapshotPath(), "--snapshot-on-output", "crc32:");
        Assert.Equal(0, first.Code);
        AssertRefused(RealCli.Run("restore", SnapshotPath(), "--arch", "arm64"), "is a snapshot of an x86_64 machine, not arm64");
    }

    [Fact]
    public void ARestoredRunCanBeSnapshottedAgain()
    {
        string dir = RealCli.GuestsDir("arm64");
        string expected = File.ReadAllText(Path.Combine(dir, "snapshot.expected.txt"));
        var first = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "32M", "--snapshot", SnapshotPath("a.snap"), "--snapshot-on-output", "round 1 ");
        var second = RealCli.Run("restore", SnapshotPath("a.snap"), "--snapshot", SnapshotPath("b.snap"), "--snapshot-on-output", "round 9 ");
        var third = RealCli.Run("restore", SnapshotPath("b.snap"), "--stats");
        Assert.Equal((0, 0, 0), (first.Code, second.Code, third.Code));
        Assert.Equal(expected, first.Serial + second.Serial + third.Serial);
        Assert.Contains("hvc_exit_stat 1", third.Out);   // the restored run powered off through PSCI
    }

    // The counters of the restored run go on from the snapshot's: its --stats are the uninterrupted run's (this guest
    // does the same exits every run: its console writes and the PSCI power-off).
    [Fact]
    public void TheStatisticsOfARestoredRunAreTheWholeRunsTotals()
    {
        string guest = Path.Combine(RealCli.GuestsDir("arm64"), "snapshot.elf");
        var whole = RealCli.Run("run", "--kernel", guest, "--memory", "32M", "--stats");
        var first = RealCli.Run("run", "--kernel", guest, "--memory", "32M", "--snapshot", SnapshotPath(), "--snapshot-on-output", "round 3 ");
        var second = RealCli.Run("restore", SnapshotPath(), "--stats");
        Assert.Equal((0, 0, 0), (whole.Code, first.Code, second.Code));
        foreach (string name in (string[])["exits", "mmio_exit_user", "hvc_exit_stat", "vmm_mmio_exits_seen"])
        {
            string line = whole.Out.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
            Assert.NotEqual(name + " 0", line);
            Assert.Contains(line + "\n", second.Out);
        }
    }

    // Semihosting's open files: the snapshot is taken with out.txt open for reading, right after SYS_SEEK to 6; the
    // restored run opens it again at that position and reads 'semihosting' from it (check 28).
    [Fact]
    public void ASemihostingGuestWithAFileOpenIsRestoredWithTheFileAtItsPosition()
    {
        string guest = Path.Combine(RealCli.GuestsDir("arm64"), "semihosting", "semihosting.elf");
        string root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        var whole = RealCli.Run("run", "--kernel", guest, "--memory", "128M", "--semihosting", "--semihosting-root", root);
        Assert.Equal(42, whole.Code);

        var first = RealCli.Run("run", "--kernel", guest, "--memory", "128M", "--semihosting", "--semihosting-root", root,
            "--snapshot", SnapshotPath(), "--snapshot-on-output", "SYS_SEEK to 6");
        Assert.Equal(0, first.Code);
        var second = RealCli.Run("restore", SnapshotPath());
        Assert.Equal(42, second.Code);
        Assert.Equal(whole.Serial, first.Serial + second.Serial);
        Assert.Equal("hello semihosting\nmore\n", File.ReadAllText(Path.Combine(root, "out.txt")));
    }

    [Fact]
    public void ASemihostingFileThatIsGoneAtTheRestoreIsOneLineAndExitCode2()
    {
        string guest = Path.Combine(RealCli.GuestsDir("arm64"), "semihosting", "semihosting.elf");
        string root = Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;
        var first = RealCli.Run("run", "--kernel", guest, "--memory", "128M", "--semihosting", "--semihosting-root", root,
            "--snapshot", SnapshotPath(), "--snapshot-on-output", "SYS_SEEK to 6");
        Assert.Equal(0, first.Code);
        File.Delete(Path.Combine(root, "out.txt"));
        AssertRefused(RealCli.Run("restore", SnapshotPath()), "semihosting file", "out.txt", "cannot be opened again");
    }

    // The restored memory is mapped from a.snap; the new snapshot goes to a.snap too: it is written beside and renamed
    // over, so the running VM's pages (the old file) stay whole while it is written.
    [Fact]
    public void ARestoredRunCanBeSnapshottedIntoTheFileItWasRestoredFrom()
    {
        string dir = RealCli.GuestsDir("arm64");
        string expected = File.ReadAllText(Path.Combine(dir, "snapshot.expected.txt"));
        var first = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "32M", "--snapshot", SnapshotPath(), "--snapshot-on-output", "round 1 ");
        var second = RealCli.Run("restore", SnapshotPath(), "--snapshot", SnapshotPath(), "--snapshot-on-output", "round 9 ");
        var third = RealCli.Run("restore", SnapshotPath());
        Assert.Equal((0, 0, 0), (first.Code, second.Code, third.Code));
        Assert.Equal(expected, first.Serial + second.Serial + third.Serial);
        Assert.Equal([SnapshotPath()], Directory.GetFiles(_dir));
    }

    [Fact]
    public void ZeroPagesAreNotInTheFile()
    {
        string dir = RealCli.GuestsDir("arm64");
        var small = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "32M", "--snapshot", SnapshotPath("small.snap"), "--snapshot-on-output", "SNAPSHOT-MARKER");
        var large = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "1G", "--snapshot", SnapshotPath("large.snap"), "--snapshot-on-output", "SNAPSHOT-MARKER");
        Assert.Equal((0, 0), (small.Code, large.Code));
        long smallBytes = new FileInfo(SnapshotPath("small.snap")).Length, largeBytes = new FileInfo(SnapshotPath("large.snap")).Length;

        // The guest touched about 100 KiB (its image, stack, 64 KiB table, the device tree); 1 GiB more RAM costs its page bitmap only (32 KiB).
        Assert.InRange(smallBytes, 64 * 1024, 256 * 1024);
        Assert.InRange(largeBytes - smallBytes, 0, 40 * 1024);
    }

    [Fact]
    public void TheRestoredProcessIsANewProcess()
    {
        string dir = RealCli.GuestsDir("arm64");
        string expected = File.ReadAllText(Path.Combine(dir, "snapshot.expected.txt"));
        var first = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "32M", "--snapshot", SnapshotPath(), "--snapshot-on-output", "SNAPSHOT-MARKER");
        Assert.Equal(0, first.Code);

        string softkvm = Path.Combine(AppContext.BaseDirectory, "softkvm.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[softkvm, "restore", SnapshotPath()])
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        Assert.Equal(expected, first.Serial + output);
    }

    [Fact]
    public void ACorruptSnapshotIsOneLineAndExitCode2()
    {
        string snapshot = TakeSnapshot();
        byte[] bytes = File.ReadAllBytes(snapshot);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(snapshot, bytes);
        AssertRefused(RealCli.Run("restore", snapshot), "is corrupt", "fails its checksum");
    }

    [Fact]
    public void ATruncatedSnapshotIsOneLineAndExitCode2()
    {
        string snapshot = TakeSnapshot();
        byte[] bytes = File.ReadAllBytes(snapshot);
        File.WriteAllBytes(snapshot, bytes[..(bytes.Length - 20)]);
        AssertRefused(RealCli.Run("restore", snapshot), "is truncated");
    }

    [Fact]
    public void AFileThatIsNoSnapshotIsOneLineAndExitCode2()
    {
        string file = SnapshotPath("not.snap");
        File.WriteAllText(file, "hello, I am not a snapshot");
        AssertRefused(RealCli.Run("restore", file), "is not a SoftKvm snapshot");
    }

    [Fact]
    public void ASnapshotOfAnotherFormatVersionIsOneLineAndExitCode2()
    {
        string snapshot = TakeSnapshot();
        byte[] bytes = File.ReadAllBytes(snapshot);
        bytes[8] = 99;
        File.WriteAllBytes(snapshot, bytes);
        AssertRefused(RealCli.Run("restore", snapshot), "format version 99");
    }

    [Fact]
    public void ASnapshotOfAnotherArchitectureIsOneLineAndExitCode2()
    {
        AssertRefused(RealCli.Run("restore", TakeSnapshot(), "--arch", "x86_64"), "is a snapshot of an arm64 machine, not x86_64");
    }

    [Fact]
    public void ASnapshotThatCannotBeWrittenIsOneLineAndExitCode2()
    {
        string dir = RealCli.GuestsDir("arm64");
        string path = Path.Combine(_dir, "no-such-dir", "vm.snap");
        var run = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "32M", "--snapshot", path, "--snapshot-on-output", "SNAPSHOT-MARKER");
        Assert.Equal(2, run.Code);
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cannot be written", line);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void SnapshotOnOutputWithoutAFileIsOneLineAndExitCode2()
    {
        string dir = RealCli.GuestsDir("arm64");
        AssertRefused(RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--snapshot-on-output", "SNAPSHOT-MARKER"), "--snapshot-on-output needs --snapshot FILE");
    }

    private string TakeSnapshot()
    {
        string dir = RealCli.GuestsDir("arm64");
        var run = RealCli.Run("run", "--kernel", Path.Combine(dir, "snapshot.elf"), "--memory", "32M", "--snapshot", SnapshotPath(), "--snapshot-on-output", "SNAPSHOT-MARKER");
        Assert.Equal(0, run.Code);
        return SnapshotPath();
    }

    private static void AssertRefused((int Code, string Serial, string Out, string Error) result, params string[] parts)
    {
        Assert.Equal(2, result.Code);
        Assert.Equal("", result.Serial);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("softkvm: ", line);
        foreach (string part in parts)
        {
            Assert.Contains(part, line);
        }
    }
}

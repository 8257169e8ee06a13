using System.Diagnostics;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>A fact that is skipped, saying why, when qemu-system-aarch64 is not installed.</summary>
public sealed class QemuAarch64FactAttribute : FactAttribute
{
    public QemuAarch64FactAttribute()
    {
        if (!File.Exists("/usr/bin/qemu-system-aarch64"))
        {
            Skip = "qemu-system-aarch64 is not installed (Debian package qemu-system-arm): the comparison with QEMU cannot run";
        }
    }
}

/// <summary>
/// Issue #25, Arm semihosting through <c>softkvm run --semihosting</c>: guests/arm64/semihosting checks every
/// operation and ends with SYS_EXIT_EXTENDED, whose code is the process's exit code (42: every check passed with
/// files, 43: every check passed and files were refused); SYS_EXIT's reasons; console input for SYS_READC; the
/// options' errors; and the same binary under qemu-system-aarch64 with the same output and exit code.
/// </summary>
public sealed class SemihostingGuestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-semihosting-").FullName;

    private static string Guest => Path.Combine(RealCli.GuestsDir("arm64"), "semihosting", "semihosting.elf");

    private string Root => Directory.CreateDirectory(Path.Combine(_dir, "root")).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Every_operation_passes_and_the_exit_code_is_the_guests()
    {
        string root = Root;
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Guest, "--memory", "128M", "--semihosting", "--semihosting-root", root, "--append", "one two");
        Assert.DoesNotContain("FAIL", serial);
        Assert.Contains($"cmdline: {Guest} one two\n", serial);
        Assert.Contains("SYS_WRITE to :tt\n", serial);
        Assert.EndsWith("PASS\n", serial);
        Assert.Equal(42, code);
        Assert.Equal("", error);
        Assert.Equal("hello semihosting\nmore\n", File.ReadAllText(Path.Combine(root, "out.txt")));
        Assert.False(File.Exists(Path.Combine(_dir, "outside.txt")));
    }

    [Fact]
    public void Without_a_root_open_fails_with_EACCES_and_nothing_is_written()
    {
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Guest, "--memory", "128M", "--semihosting");
        Assert.Contains("files: open for writing refused, errno 13\n", serial);
        Assert.DoesNotContain("FAIL", serial);
        Assert.Equal(43, code);
        Assert.Equal("", error);
        Assert.False(File.Exists("out.txt"));
    }

    [Fact]
    public void Sys_exit_with_application_exit_gives_the_subcode()
    {
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Guest, "--memory", "128M", "--semihosting", "--append", "exit=plain");
        Assert.EndsWith("PASS\n", serial);
        Assert.Equal(7, code);
        Assert.Equal("", error);
    }

    [Fact]
    public void Sys_exit_with_another_reason_is_exit_code_1_and_a_line_naming_it()
    {
        var (code, _, _, error) = RealCli.Run("run", "--kernel", Guest, "--memory", "128M", "--semihosting", "--append", "exit=abnormal");
        Assert.Equal(1, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("softkvm: vCPU 0: the guest stopped through semihosting with ADP_Stopped_RunTimeErrorUnknown (0x20023), subcode 5", line);
    }

    [Fact]
    public void Sys_readc_reads_the_console_input()
    {
        using var input = new MemoryStream("x"u8.ToArray());
        var (code, serial, _, _) = RealCli.RunWithInput(input, "run", "--kernel", Guest, "--memory", "128M", "--semihosting", "--append", "readc");
        Assert.Contains("read: x\n", serial);
        Assert.Equal(43, code);
    }

    [Theory]
    [InlineData("--semihosting-root confines semihosting's files: use it with --semihosting", "--semihosting-root", "/tmp")]
    [InlineData("--semihosting-root '/nonexistent-softkvm-dir' is not a directory", "--semihosting", "--semihosting-root", "/nonexistent-softkvm-dir")]
    [InlineData("--semihosting is an arm64 option (use it with --arch arm64)", "--semihosting", "--arch", "x86_64")]
    public void Bad_semihosting_options_are_one_line_and_exit_code_2(string expected, params string[] options)
    {
        var (code, serial, _, error) = RealCli.Run(["run", "--kernel", Guest, .. options]);
        Assert.Equal(2, code);
        Assert.Equal("", serial);
        Assert.Equal($"softkvm: {expected}", Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    /// <summary>
    /// The goal's claim: a bare-metal binary built for QEMU with semihosting runs unchanged. The same guest under
    /// <c>qemu-system-aarch64 -M virt -cpu cortex-a57 -semihosting-config enable=on,target=native</c> (in the root
    /// folder: QEMU opens files relative to its working directory) prints the same and exits with the same code. The
    /// guest's "compare" word skips its two checks whose answers differ from QEMU's (see semihosting.c).
    /// </summary>
    [QemuAarch64Fact]
    public void The_same_binary_under_qemu_prints_the_same_and_exits_with_the_same_code()
    {
        string root = Root;
        var psi = new ProcessStartInfo("/bin/sh", ["-c", "exec qemu-system-aarch64 -M virt -cpu cortex-a57 -m 128M -nographic -monitor none -serial none "
            + "-semihosting-config enable=on,target=native -kernel \"$0\" -append compare 2>&1", Guest])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
        };
        using var qemu = Process.Start(psi)!;
        qemu.StandardInput.Close();
        var qemuOutput = qemu.StandardOutput.ReadToEndAsync();
        if (!qemu.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            qemu.Kill(entireProcessTree: true);
            Assert.Fail("qemu-system-aarch64 did not end within 2 minutes");
        }

        string qemuText = qemuOutput.Result;
        File.Delete(Path.Combine(root, "out.txt"));
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Guest, "--memory", "128M", "--semihosting", "--semihosting-root", root, "--append", "compare");
        Assert.EndsWith("PASS\n", qemuText);
        Assert.Equal(qemuText, serial);
        Assert.Equal(42, qemu.ExitCode);
        Assert.Equal(qemu.ExitCode, code);
        Assert.Equal("", error);
    }
}

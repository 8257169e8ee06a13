namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 21's ITS guest through the command a user runs: guests/arm64/its brings up N vCPUs with LPIs
/// enabled, programs the ITS that `softkvm run --gic v3` provides at QEMU virt's address, and checks the
/// commands (MAPD, MAPC, MAPTI, MAPI, SYNC, INT, MOVI, INV, INVALL, CLEAR, DISCARD) and LPI delivery to
/// every vCPU through the property and pending tables. Its output is the same under QEMU's own ITS
/// (`qemu-system-aarch64 -M virt,gic-version=3`), which guests/arm64/its/its.expected.txt records for 4 vCPUs.
/// </summary>
public sealed class ItsGuestCommandTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void ItsCommandsAndLpisReachEveryVcpu(int vcpus)
    {
        string dir = RealCli.GuestsDir("arm64/its");
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Path.Combine(dir, "its.elf"), "--smp", vcpus.ToString(), "--gic", "v3", "--memory", "64M");

        Assert.Equal("", error);
        Assert.Equal(0, code);
        string expected = File.ReadAllText(Path.Combine(dir, "its.expected.txt")).Replace("4 vCPUs", $"{vcpus} vCPUs");
        Assert.Equal(expected, serial.Replace("\r", ""));
    }
}

namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 21's PMU guest through the command a user runs: guests/arm64/pmu checks exact PMUv3 counts for
/// known instruction sequences (INST_RETIRED, CPU_CYCLES, the cycle counter, EL0/EL1 filtering, SW_INCR,
/// a 32-bit overflow with its interrupt on PPI 23, a CHAIN pair, 64-bit counters, PMUSERENR_EL0) on vCPU 0
/// and the same loop on every other vCPU; its output is guests/arm64/pmu/pmu.expected.txt (4 vCPUs).
/// The counts are the same whichever engine runs the code around the counted regions.
/// </summary>
public sealed class PmuGuestCommandTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void PmuCountsAreExactOnEveryVcpu(int vcpus)
    {
        string dir = RealCli.GuestsDir("arm64/pmu");
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Path.Combine(dir, "pmu.elf"), "--smp", vcpus.ToString(), "--gic", "v3", "--memory", "64M");

        Assert.Equal("", error);
        Assert.Equal(0, code);
        string expected = File.ReadAllText(Path.Combine(dir, "pmu.expected.txt")).Replace("of 4 vCPUs", $"of {vcpus} vCPUs");
        Assert.Equal(expected, serial.Replace("\r", ""));
    }
}

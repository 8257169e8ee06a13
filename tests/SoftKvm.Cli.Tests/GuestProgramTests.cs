using System.Globalization;
using System.Text.RegularExpressions;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// The guest programs of guests/arm64 run through <c>softkvm run</c> with the real arm64 machine (the
/// wiring of <see cref="MachineWiring"/>): serial output equal to QEMU's, exit codes, --stats, --dump-dtb.
/// </summary>
public sealed class GuestProgramTests
{
    private static string Guests() => RealCli.GuestsDir("arm64");

    private static (int Code, string Serial, string Out, string Error) Softkvm(params string[] args) => RealCli.Run(args);

    [Theory]
    [InlineData("compute", "1", "v3")]
    [InlineData("mmio", "1", "v3")]
    [InlineData("psci", "4", "v3")]
    [InlineData("mmu", "1", "v2")]
    [InlineData("timer", "1", "v3")]
    public void GuestPrintsWhatQemuPrintsAndPowersOff(string name, string smp, string gic)
    {
        var (code, serial, _, error) = Softkvm("run", "--kernel", Path.Combine(Guests(), name + ".elf"), "--smp", smp, "--gic", gic, "--memory", "128M");
        Assert.Equal(File.ReadAllText(Path.Combine(Guests(), name + ".expected.txt")), serial);
        Assert.Equal(0, code);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("v2", "9", "GICv2 takes 1 to 8 vCPUs")]
    [InlineData("v3", "513", "GICv3 takes 1 to 512 vCPUs")]
    public void MoreVcpusThanTheGicCanTargetIsOneLineAndExitCode2(string gic, string smp, string expected)
    {
        var (code, serial, _, error) = Softkvm("run", "--kernel", Path.Combine(Guests(), "compute.elf"), "--gic", gic, "--smp", smp);
        Assert.Equal(2, code);
        Assert.Equal("", serial);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("softkvm: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void StatsCountTheUserMmioExits()
    {
        var (code, serial, output, _) = Softkvm("run", "--kernel", Path.Combine(Guests(), "mmio.elf"), "--stats");
        Assert.Equal(0, code);
        var stats = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => ulong.Parse(p[1]));
        Assert.Equal((ulong)serial.Length + 14, stats["mmio_exit_user"]);
        Assert.Equal(1UL, stats["hvc_exit_stat"]);
        Assert.True(stats["exits"] >= stats["mmio_exit_user"]);
    }

    [Fact]
    public void ProfileReportsRatesHitRatesExitsAndHotFunctions()
    {
        string symbols = Path.GetTempFileName();
        try
        {
            // compute.elf is stripped: name its whole text "compute_text" (the loaded segment starts at 0x40080000).
            File.WriteAllText(symbols, "0000000040080000 T compute_text\n0000000040100000 T after_text\n");
            var (code, serial, output, _) = Softkvm("run", "--kernel", Path.Combine(Guests(), "compute.elf"), "--profile", "--symbols", symbols);
            Assert.Equal(0, code);
            Assert.Equal(File.ReadAllText(Path.Combine(Guests(), "compute.expected.txt")), serial);
            Assert.Contains("profile: ", output);
            Assert.Matches(@"vcpu0: [0-9,]+ instructions, [0-9.]+ MIPS", output);
            Assert.Matches(@"decode_cache_misses [0-9,]+ \([0-9.]+ per million instructions\), hit rate [0-9.]+%", output);
            Assert.Matches(@"fetch_tlb_misses [0-9,]+ .*hit rate", output);
            Assert.Matches(@"mmio_exit_user +[0-9,]+ +[0-9.,]+/s", output);
            Assert.Contains("hottest guest functions", output);
            Assert.Matches(@"[0-9.]+%  compute_text", output);
            if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64 && OperatingSystem.IsLinux())
            {
                // The native engine's figures (issue #18): blocks, compile time per block, code size, hit rates.
                Assert.Matches(@"blocks_translated [1-9][0-9,]* ", output);
                Assert.Matches(@"native_compile_us_median [0-9,]+\n", output);
                Assert.Matches(@"native_compile_us_p99 [0-9,]+\n", output);
                Assert.Matches(@"native_code_bytes [1-9][0-9,]*\n", output);
                Assert.Matches(@"native_chained_per_mille [0-9,]+\n", output);
                Assert.Matches(@"native_indirect_hits_per_mille [0-9,]+\n", output);
            }
        }
        finally
        {
            File.Delete(symbols);
        }
    }

    [Fact]
    public void ProfileGivesTheAverageCostOfAnExitPerReason()
    {
        // guests/arm64/exits: 81,920 round trips each of HVC, VMM MMIO and in-kernel MMIO. Every exit is
        // timed (a sampling profiler could miss a reason whose exits are as short as a native HVC's), so
        // each reason has a cost however fast it is.
        string exits = Path.Combine(Guests(), "exits", "exits.elf");
        var (code, serial, output, _) = Softkvm("run", "--kernel", exits, "--smp", "2", "--gic", "v3", "--profile");
        Assert.Equal(0, code);
        Assert.Contains("PASS", serial);
        foreach (string reason in new[] { "hvc_exit_stat", "mmio_exit_user", "mmio_exit_kernel" })
        {
            var cost = Regex.Match(output, $@"{reason} +[0-9,]+ +[0-9.,]+/s +([0-9,]+) ns each \([0-9.,]+ ms in all\)");
            Assert.True(cost.Success, $"no cost for {reason} in:\n{output}");
            Assert.InRange(long.Parse(cost.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), 1, 10_000_000);
        }
    }

    [Fact]
    public void SymbolsWithoutProfileOrWithoutSymbolsAreOneLineExit2()
    {
        string empty = Path.GetTempFileName();
        try
        {
            var (code, _, _, error) = Softkvm("run", "--kernel", Path.Combine(Guests(), "compute.elf"), "--symbols", empty);
            Assert.Equal(2, code);
            Assert.Contains("--profile", error);
            (code, _, _, error) = Softkvm("run", "--kernel", Path.Combine(Guests(), "compute.elf"), "--profile", "--symbols", empty);
            Assert.Equal(2, code);
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("no text symbols", error);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public void BuiltInDemoGreetsFromFourVcpusAndPowersOff()
    {
        var (code, serial, _, error) = Softkvm("run");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        for (int i = 0; i < 4; i++)
        {
            Assert.Contains($"vCPU {i} (MPIDR 0x8000000{i}) says hello", serial);
        }

        Assert.Contains("broadcast SGI 3 reached all 3 other vCPUs", serial);
        Assert.Contains("powering off", serial);
    }

    [Fact]
    public void VgicStateIsDumpedAfterTheRun()
    {
        var (code, _, output, _) = Softkvm("run", "--kernel", Path.Combine(Guests(), "compute.elf"), "--vgic-state");
        Assert.Equal(0, code);
        Assert.False(string.IsNullOrWhiteSpace(output));
    }

    [DtcFact]
    public void DumpDtbOfTheRealMachineDecompilesWithoutWarnings()
    {
        string dtb = Path.Combine(Path.GetTempPath(), $"softkvm-e2e-{Guid.NewGuid():N}.dtb");
        try
        {
            var (code, _, _, _) = Softkvm("run", "--smp", "130", "--dump-dtb", dtb);
            Assert.Equal(0, code);
            var (dtcCode, dts, errors) = Dtc.Decompile(File.ReadAllBytes(dtb));
            Assert.Equal(0, dtcCode);
            Assert.True(errors.Trim().Length == 0, errors);
            Assert.Contains("#redistributor-regions = <0x02>;", dts);
        }
        finally
        {
            File.Delete(dtb);
        }
    }
}

using System.Text.Json;
using SoftKvm.Core.Run;
using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Cli.Tests;

public sealed class RunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Kernel()
    {
        string path = Path.Combine(_dir, "Image");
        File.WriteAllBytes(path, Images.Arm64Image(0, 1 << 20));
        return path;
    }

    [Fact]
    public void GuestOutputGoesToSerialAndPowerOffExitsZero()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--smp", "2"));
        Assert.Equal("Hi\n", h.SerialText);
        Assert.Empty(h.Error.ToString());
        Assert.Equal(2, h.Backend!.Vm!.MaxVcpus);
        Assert.Equal(GicVersion.V3, h.Backend.Gic);
    }

    [Fact]
    public void HaltPollNsSetsTheVmsMaximumAndANegativeValueIsOneLineWithExitCode2()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--halt-poll-ns", "0"));
        Assert.Equal(0, h.Backend!.Vm!.MaxHaltPollNs);

        var d = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, d.Run("run", "--kernel", Kernel()));
        Assert.Equal(SoftKvm.Core.Vm.DefaultMaxHaltPollNs, d.Backend!.Vm!.MaxHaltPollNs);

        var bad = new CliHarness(new FakeArm64Backend());
        Assert.Equal(2, bad.Run("run", "--kernel", Kernel(), "--halt-poll-ns", "-5"));
        Assert.Equal("softkvm: --halt-poll-ns must be 0 or more\n", bad.Error.ToString());
    }

    [Fact]
    public void StatsArePrintedAsNameValueLines()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--stats"));
        var lines = h.Out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("exits ", StringComparison.Ordinal) && ulong.Parse(l[6..]) >= 4);
        Assert.Contains("signal_exits 0", lines);
        Assert.All(lines, l => Assert.Matches(@"^[a-z_0-9]+ \d+$", l));
    }

    [Fact]
    public void VgicStateIsPrintedAfterTheRun()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--gic", "v2", "--vgic-state"));
        Assert.Contains("fake GICV2", h.Out.ToString());
    }

    [Fact]
    public void TraceFileIsChromeTraceJson()
    {
        var h = new CliHarness(new FakeArm64Backend());
        string trace = Path.Combine(_dir, "trace.json");
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--trace", trace));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(trace));
        var names = doc.RootElement.GetProperty("traceEvents").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Equal(3, names.Count(n => n == "KVM_EXIT_MMIO"));
        Assert.Contains("KVM_EXIT_SYSTEM_EVENT", names);
    }

    [Fact]
    public void DumpDtbWritesTheBlobAndDoesNotRun()
    {
        var h = new CliHarness(new FakeArm64Backend());
        string dtb = Path.Combine(_dir, "virt.dtb");
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--smp", "3", "--append", "console=ttyAMA0", "--dump-dtb", dtb));
        Assert.Null(h.Backend!.Vm);
        var r = new FdtReader(File.ReadAllBytes(dtb));
        Assert.Equal(["console=ttyAMA0"], r.Strings("/chosen", "bootargs"));
        Assert.Contains("/cpus/cpu@2", r.NodeOrder);
    }

    [DtcFact]
    public void DumpedDtbDecompilesWithoutWarnings()
    {
        var h = new CliHarness(new FakeArm64Backend());
        string dtb = Path.Combine(_dir, "virt.dtb");
        string disk = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(disk, new byte[4096]);
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--smp", "4", "--gic", "v2", "--disk", disk, "--dump-dtb", dtb));
        var (code, dts, errors) = Dtc.Decompile(File.ReadAllBytes(dtb));
        Assert.Equal(0, code);
        Assert.True(errors.Trim().Length == 0, errors);
        Assert.Contains("virtio_mmio@a000000", dts);
    }

    [Fact]
    public void InternalErrorExitsThreeWithOneLine()
    {
        var backend = new FakeArm64Backend
        {
            ScriptSetup = vm => vm.Cpu(0).Script(ScriptedVcpu.InternalError("UNDEFINED instruction 0xdeadbeef at PC 0x40200000")),
        };
        var h = new CliHarness(backend);
        Assert.Equal(3, h.Run("run", "--kernel", Kernel()));
        var line = Assert.Single(h.ErrorLines);
        Assert.Contains("KVM_EXIT_INTERNAL_ERROR", line);
        Assert.Contains("PC 0x40200000", line);
        Assert.Contains("0xdeadbeef", line);
    }

    [Fact]
    public void ResetStopsWithZeroAndSaysSo()
    {
        var backend = new FakeArm64Backend { ScriptSetup = vm => vm.Cpu(0).Script(ScriptedVcpu.SystemEvent(SystemEventType.Reset)) };
        var h = new CliHarness(backend);
        Assert.Equal(0, h.Run("run", "--kernel", Kernel()));
        Assert.Contains("reset", Assert.Single(h.ErrorLines));
    }

    [Fact]
    public void UnhandledMmioIsLoggedAndTheGuestContinues()
    {
        var backend = new FakeArm64Backend
        {
            ScriptSetup = vm => vm.Cpu(0).Script(
                ScriptedVcpu.MmioRead(0x0902_0000),
                ScriptedVcpu.MmioWrite(VirtMemoryMap.UartBase, 'k'),
                ScriptedVcpu.SystemEvent(SystemEventType.Shutdown)),
        };
        var h = new CliHarness(backend);
        Assert.Equal(0, h.Run("run", "--kernel", Kernel()));
        Assert.Equal("k", h.SerialText);
        Assert.Contains("unhandled MMIO read at 0x9020000", Assert.Single(h.ErrorLines));
    }

    [Fact]
    public void ReadOnlyDiskIsAttached()
    {
        var h = new CliHarness(new FakeArm64Backend());
        string disk = Path.Combine(_dir, "ro.img");
        File.WriteAllBytes(disk, new byte[1024]);
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--disk-readonly", disk));
        Assert.Empty(h.Error.ToString());
    }

    [Fact]
    public void NoKernelBootsTheBuiltInDemoOnFourVcpus()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run"));
        Assert.Equal(4, h.Backend!.Vm!.MaxVcpus);
        Assert.Equal(0x4008_0000UL, h.Backend.BootStates[0].Pc);
        Assert.Equal(0x4000_0000UL, h.Backend.BootStates[0].X0); // bare-metal ELF: the DTB at the start of RAM
    }

    [Fact]
    public void MemoryMapShowsTheVirtLayout()
    {
        var h = new CliHarness();
        Assert.Equal(0, h.Run("memory-map"));
        Assert.Contains("0x9000000", h.Out.ToString());
        Assert.Contains("PL011", h.Out.ToString());
    }

    [Theory]
    [InlineData("512M", 512UL << 20)]
    [InlineData("512", 512UL << 20)]
    [InlineData("2G", 2UL << 30)]
    [InlineData("65536K", 64UL << 20)]
    [InlineData("1g", 1UL << 30)]
    [InlineData("256MiB", 256UL << 20)]
    public void SizesParseAsQemuDoes(string text, ulong bytes)
    {
        Assert.Equal(bytes, SizeParser.Parse(text));
    }
}

using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Cli.Tests;

public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("softkvm-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string File(string name, byte[] data)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllBytes(path, data);
        return path;
    }

    private string Kernel => File("raw.bin", [0x1F, 0x20, 0x03, 0xD5]);

    private static void AssertOneLineExit2(CliHarness h, int code, string expected)
    {
        Assert.Equal(2, code);
        var line = Assert.Single(h.ErrorLines);
        Assert.StartsWith("softkvm: ", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", h.Error.ToString());
        Assert.Empty(h.Serial.ToArray());
    }

    [Fact]
    public void MissingKernel()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Path.Combine(_dir, "nope")), "does not exist");
    }

    [Fact]
    public void KernelIsADirectory()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", _dir), "is a directory");
    }

    [Fact]
    public void EmptyKernelIsNotAKernelImage()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", File("empty", [])), "not a kernel image");
    }

    [Fact]
    public void ElfForAnotherArchitectureIsRefused()
    {
        var h = new CliHarness(new FakeArm64Backend());
        var elf = Images.Elf64(62, 0x10_0000, 0x10_0000, [0x90]);
        AssertOneLineExit2(h, h.Run("run", "--kernel", File("x86.elf", elf)), "x86-64");
    }

    [Fact]
    public void CorruptGzipKernel()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", File("k.gz", [0x1F, 0x8B, 0x08, 0x00, 0xFF])), "gzip");
    }

    [Theory]
    [InlineData("0", "v3", "--smp 0")]
    [InlineData("-3", "v3", "--smp -3")]
    [InlineData("9", "v2", "GICv2 takes 1 to 8")]
    [InlineData("513", "v3", "GICv3 takes 1 to 512")]
    [InlineData("abc", "v3", "invalid --smp 'abc'")]
    public void SmpOutOfRange(string smp, string gic, string expected)
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--smp", smp, "--gic", gic), expected);
    }

    [Fact]
    public void MemoryTooSmallForTheImage()
    {
        var h = new CliHarness(new FakeArm64Backend());
        var image = Images.Arm64Image(0, 64UL << 20);
        AssertOneLineExit2(h, h.Run("run", "--kernel", File("Image", image), "--memory", "32M"), "too small");
    }

    [Fact]
    public void InitrdTooBig()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--memory", "4M", "--initrd", File("initrd", new byte[3 << 20])), "too small");
    }

    [Theory]
    [InlineData("12X")]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-1G")]
    [InlineData("99999999999999999999T")]
    public void BadMemorySize(string size)
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--memory", size), "--memory");
    }

    [Fact]
    public void MemoryAboveTheMapIsRefused()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--memory", "300G"), "255 GiB");
    }

    [Fact]
    public void UnknownArch()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--arch", "riscv64", "--kernel", Kernel), "unknown --arch 'riscv64'");
    }

    [Theory]
    [InlineData("--gdb tcp:1234", "--gdb tcp:1234: expected tcp:HOST:PORT")]
    [InlineData("--gdb tcp:not-an-ip:1", "'not-an-ip' is not an IP address")]
    [InlineData("--gdb tcp::70000", "expected tcp:HOST:PORT")]
    [InlineData("--gdb-wait", "--gdb-wait needs --gdb tcp:HOST:PORT")]
    public void BadGdbOptions(string options, string expected)
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run(["run", "--kernel", Kernel, .. options.Split(' ')]), expected);
    }

    [Fact]
    public void GdbPortInUse()
    {
        var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        try
        {
            int port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
            var h = new CliHarness(new FakeArm64Backend());
            AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--gdb", $"tcp::{port}"), $"--gdb tcp::{port}: cannot listen");
        }
        finally
        {
            busy.Stop();
        }
    }

    [Fact]
    public void UnknownGic()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--gic", "v4", "--kernel", Kernel), "unknown --gic 'v4'");
    }

    [Fact]
    public void MissingInitrd()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--initrd", "/nonexistent/initrd"), "initrd '/nonexistent/initrd' does not exist");
    }

    [Fact]
    public void MissingDisk()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--disk-readonly", "/nonexistent/disk.img"), "disk image '/nonexistent/disk.img' does not exist");
    }

    [Fact]
    public void UnknownOption()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--frobnicate"), "--frobnicate");
    }

    [Fact]
    public void NoCommand()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run(), "no command given");
    }

    [Fact]
    public void X86IsNotAvailableYet()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--arch", "x86_64", "--kernel", Kernel), "x86_64 machine is not available");
    }

    [Fact]
    public void X86WithoutAKernelDoesNotGetTheArm64Demo()
    {
        var h = new CliHarness();
        AssertOneLineExit2(h, h.Run("run", "--arch", "x86_64"), "no kernel given");
    }

    [Fact]
    public void X86StillReportsAMissingKernelFirst()
    {
        var h = new CliHarness();
        AssertOneLineExit2(h, h.Run("run", "--arch", "x86_64", "--kernel", "/nonexistent/k.elf"), "does not exist");
    }

    [Fact]
    public void Arm64WithoutABackendIsNotAvailable()
    {
        var h = new CliHarness(backend: null);
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel), "arm64 virt machine is not available");
    }

    [Fact]
    public void DumpDtbToAnUnwritablePath()
    {
        var h = new CliHarness(new FakeArm64Backend());
        AssertOneLineExit2(h, h.Run("run", "--kernel", Kernel, "--dump-dtb", Path.Combine(_dir, "no", "such", "dir.dtb")), "--dump-dtb");
    }
}

using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Cli.Tests;

/// <summary>Console routing: <c>--serial stdio|file:PATH|none</c> and <c>--console virtio</c>.</summary>
public sealed class ConsoleRoutingTests : IDisposable
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
    public void Serial_stdio_is_the_default_and_writes_to_standard_output()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--serial", "stdio"));
        Assert.Equal("Hi\n", h.SerialText);
    }

    [Fact]
    public void Serial_file_writes_the_guest_output_to_the_file_and_nothing_to_standard_output()
    {
        var h = new CliHarness(new FakeArm64Backend());
        string log = Path.Combine(_dir, "serial.log");
        File.WriteAllText(log, "old contents that are replaced");
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--serial", "file:" + log));
        Assert.Equal("Hi\n", File.ReadAllText(log));
        Assert.Empty(h.Serial.ToArray());
        Assert.Empty(h.Error.ToString());
    }

    [Fact]
    public void Serial_none_drops_the_output_and_the_guest_still_runs_to_its_end()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--serial", "none"));
        Assert.Empty(h.Serial.ToArray());
        Assert.Empty(h.Error.ToString());
    }

    [Theory]
    [InlineData("tty", "invalid --serial 'tty'")]
    [InlineData("file:", "invalid --serial 'file:'")]
    [InlineData("file:/nonexistent-softkvm-dir/serial.log", "cannot be written")]
    public void A_bad_serial_route_is_one_line_and_exit_code_2(string route, string expected)
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(2, h.Run("run", "--kernel", Kernel(), "--serial", route));
        var line = Assert.Single(h.ErrorLines);
        Assert.StartsWith("softkvm: ", line);
        Assert.Contains(expected, line);
        Assert.Null(h.Backend!.Vm);
    }

    [Fact]
    public void Console_virtio_adds_a_virtio_mmio_transport_to_the_arm64_machine()
    {
        var plain = new CliHarness(new FakeArm64Backend());
        string a = Path.Combine(_dir, "a.dtb"), b = Path.Combine(_dir, "b.dtb");
        Assert.Equal(0, plain.Run("run", "--kernel", Kernel(), "--dump-dtb", a));
        var withConsole = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, withConsole.Run("run", "--kernel", Kernel(), "--console", "virtio", "--dump-dtb", b));
        Assert.Equal(0, Transports(a));
        Assert.Equal(1, Transports(b));

        var bad = new CliHarness(new FakeArm64Backend());
        Assert.Equal(2, bad.Run("run", "--kernel", Kernel(), "--console", "serial"));
        Assert.Contains("invalid --console 'serial'", Assert.Single(bad.ErrorLines));
    }

    private static int Transports(string dtb) =>
        new FdtReader(File.ReadAllBytes(dtb)).NodeOrder.Count(n => n.Contains("virtio_mmio@", StringComparison.Ordinal));
}

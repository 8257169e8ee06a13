using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Cli.Tests;

/// <summary><c>softkvm run --cpu</c>: help, the default, a chosen model, unknown names and other architectures.</summary>
public sealed class CpuOptionTests : IDisposable
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
    public void HelpListsTheModelsDefaultFirstAndRunsNothing()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--cpu", "help"));
        var lines = h.Out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("  cortex-a57 ", lines[1]);
        Assert.StartsWith("  max ", lines[2]);
        Assert.Equal("              --cpu max,pauth=qarma5|impdef: the fake algorithm", lines[3]);
        Assert.Null(h.Backend!.Vm);
        Assert.Empty(h.Error.ToString());
    }

    [Fact]
    public void DefaultIsCortexA57()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel()));
        Assert.Equal("cortex-a57", h.Backend!.CpuModel);
    }

    [Fact]
    public void ChosenModelReachesTheBackendByItsOwnName()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--cpu", "MAX"));
        Assert.Equal("max", h.Backend!.CpuModel);
        Assert.Equal("Hi\n", h.SerialText);
    }

    [Fact]
    public void AnOptionReachesTheBackendInLowerCase()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(0, h.Run("run", "--kernel", Kernel(), "--cpu", "Max,PAuth=IMPDEF"));
        Assert.Equal("max,pauth=impdef", h.Backend!.CpuModel);
    }

    [Theory]
    [InlineData("max,pauth=sha1", "unknown --cpu option 'pauth=sha1' for max (expected pauth=qarma5|impdef)")]
    [InlineData("max,fast", "unknown --cpu option 'fast' for max (expected pauth=qarma5|impdef)")]
    [InlineData("cortex-a57,pauth=impdef", "--cpu cortex-a57 takes no options ('pauth=impdef')")]
    public void UnknownOptionIsOneLineExitTwo(string spec, string message)
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(2, h.Run("run", "--kernel", Kernel(), "--cpu", spec));
        Assert.Equal($"softkvm: {message}", Assert.Single(h.ErrorLines));
        Assert.Null(h.Backend!.Vm);
    }

    [Theory]
    [InlineData("cortex-a53")]
    [InlineData("")]
    public void UnknownModelIsOneLineExitTwo(string name)
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(2, h.Run("run", "--kernel", Kernel(), "--cpu", name));
        var line = Assert.Single(h.ErrorLines);
        Assert.StartsWith("softkvm: unknown --cpu", line);
        Assert.Contains("cortex-a57 or max", line);
        Assert.Null(h.Backend!.Vm);
    }

    [Fact]
    public void CpuIsAnArm64Option()
    {
        var h = new CliHarness(new FakeArm64Backend());
        Assert.Equal(2, h.Run("run", "--arch", "x86_64", "--kernel", Kernel(), "--cpu", "max"));
        Assert.Contains("--cpu is an arm64 option", Assert.Single(h.ErrorLines));
    }
}

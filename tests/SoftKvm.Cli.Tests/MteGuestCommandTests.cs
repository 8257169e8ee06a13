namespace SoftKvm.Cli.Tests;

/// <summary>
/// guests/arm64/mte through the command a user runs: <c>softkvm run --cpu max</c> gives the guest FEAT_MTE2/MTE3
/// (allocation tags, tag checks with synchronous, asynchronous and asymmetric faults); its output is
/// guests/arm64/mte/mte.expected.txt. On cortex-a57 the first tag instruction is UNDEFINED.
/// </summary>
public sealed class MteGuestCommandTests
{
    [Fact]
    public void MteGuestPrintsItsExpectedOutputOnCpuMax()
    {
        string dir = RealCli.GuestsDir("arm64/mte");
        var (code, serial, _, error) = RealCli.Run("run", "--cpu", "max", "--kernel", Path.Combine(dir, "mte.elf"), "--memory", "128M");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "mte.expected.txt")), serial.Replace("\r", ""));
    }

    [Fact]
    public void OnCortexA57TheTagInstructionsAreUndefined()
    {
        string dir = RealCli.GuestsDir("arm64/mte");
        var (code, serial, _, _) = RealCli.Run("run", "--kernel", Path.Combine(dir, "mte.elf"), "--memory", "128M");
        Assert.Equal(0, code);
        Assert.Contains("id_aa64pfr1 mte 0x0000000000000000", serial);
        Assert.Contains("unexpected exception, esr 0x0000000002000000", serial.Replace("\r", "")); // EC 0: the first MRS of GMID_EL1
    }
}

namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 22's pointer authentication and BTI guest (guests/arm64/pauth) through the command a user runs:
/// on <c>--cpu max</c> it prints what QEMU 7.2's <c>-cpu max</c> prints (QARMA5 codes of fixed keys, faults
/// after failed authentication, BTI landing pads and Branch Target exceptions); with <c>pauth=impdef</c>
/// the ID fields and the codes change, every behaviour stays.
/// </summary>
public sealed class PauthGuestCommandTests
{
    private static (int Code, string Serial, string Error) RunPauth(string cpu)
    {
        string dir = RealCli.GuestsDir("arm64");
        var (code, serial, _, error) = RealCli.Run("run", "--kernel", Path.Combine(dir, "pauth.elf"), "--cpu", cpu, "--memory", "64M");
        return (code, serial.Replace("\r", ""), error);
    }

    private static string Expected() => File.ReadAllText(Path.Combine(RealCli.GuestsDir("arm64"), "pauth.expected.txt"));

    [Fact]
    public void OnCpuMax_ItPrintsWhatQemuMaxPrints()
    {
        var (code, serial, error) = RunPauth("max");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.Equal(Expected(), serial);
    }

    [Fact]
    public void WithTheImpdefAlgorithm_OnlyTheIdFieldsAndTheCodesChange()
    {
        var (code, serial, error) = RunPauth("max,pauth=impdef");
        Assert.Equal("", error);
        Assert.Equal(0, code);
        string[] mine = serial.Split('\n'), qemu = Expected().Split('\n');
        Assert.Equal(qemu.Length, mine.Length);
        Assert.Equal(["apa 0x0000000000000000", "api 0x0000000000000001", "gpa 0x0000000000000000", "gpi 0x0000000000000001"], mine[..4]);
        int differ = 0;
        for (int i = 4; i < qemu.Length; i++)
        {
            bool code1 = qemu[i].StartsWith("case ", StringComparison.Ordinal) || qemu[i].StartsWith("pacga", StringComparison.Ordinal);
            if (!code1)
            {
                Assert.Equal(qemu[i], mine[i]); // every behaviour: signed returns, faults, landing pads
            }
            else if (qemu[i] != mine[i])
            {
                differ++;
            }
        }

        Assert.True(differ > 500, $"only {differ} codes differ from QARMA5's");
    }
}

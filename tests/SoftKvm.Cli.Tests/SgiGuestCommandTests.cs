using System.Runtime.CompilerServices;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// Issue 5's guest through the command a user runs: guests/arm64/sgi brings up N vCPUs with PSCI and
/// delivers targeted and broadcast SGIs to every one, with `softkvm run --smp N --gic v3|v2`.
/// </summary>
public sealed class SgiGuestCommandTests
{
    [Theory]
    [InlineData(4, "v3")]
    [InlineData(64, "v3")]
    [InlineData(512, "v3")]
    [InlineData(8, "v2")]
    public void SgisReachEveryVcpu(int vcpus, string gic)
    {
        var serial = new MemoryStream();
        var error = new StringWriter();
        var env = new CliEnvironment { Out = new StringWriter(), Error = error, SerialOutput = serial };

        int code = SoftKvmCli.Run(["run", "--kernel", SgiElf(), "--smp", vcpus.ToString(), "--gic", gic, "--memory", "64M"], env, MachineWiring.Default());

        string text = Encoding.ASCII.GetString(serial.ToArray());
        Assert.Equal("", error.ToString());
        Assert.Equal(0, code);
        Assert.Contains($"GIC{gic}: {vcpus} vCPUs online", text);
        Assert.Contains($"targeted SGIs answered: {vcpus - 1}", text);
        Assert.Contains($"broadcast SGI reached: {vcpus - 1}", text);
        Assert.EndsWith("PASS\r\n", text);
    }

    private static string SgiElf([CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "guests", "arm64", "sgi", "sgi.elf");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("guests/arm64/sgi/sgi.elf not found above " + source);
    }
}

using System.Runtime.CompilerServices;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// The Multiboot guests of guests/x86 run through <c>softkvm run --arch x86_64</c> with the real PC
/// machine (<see cref="MachineWiring"/>): serial output equal to QEMU's and QEMU's isa-debug-exit code
/// ((value &lt;&lt; 1) | 1: the guests write 0 on success, so 1).
/// </summary>
public sealed class X86GuestTests
{
    private static string Guests([CallerFilePath] string source = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(source)!);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "guests", "x86")))
        {
            dir = dir.Parent;
        }

        return dir is null ? throw new DirectoryNotFoundException("guests/x86 not found") : Path.Combine(dir.FullName, "guests", "x86");
    }

    private static (int Code, string Serial, string Out, string Error) Softkvm(params string[] args)
    {
        var serial = new MemoryStream();
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new CliEnvironment { Out = output, Error = error, SerialOutput = serial };
        int code = SoftKvmCli.Run(args, env, MachineWiring.Default());
        return (code, Encoding.UTF8.GetString(serial.ToArray()), output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("compute32", "1", "128M")]
    [InlineData("longmode", "1", "64M")]
    [InlineData("compute32", "4", "64M")]
    public void GuestPrintsWhatQemuPrintsAndExitsThroughIsaDebugExit(string name, string smp, string memory)
    {
        var (code, serial, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), name + ".elf"), "--smp", smp, "--memory", memory);
        Assert.Equal(File.ReadAllText(Path.Combine(Guests(), name + ".expected")), serial);
        Assert.Equal(1, code);
        Assert.DoesNotContain("Unhandled", error);
    }

    [Fact]
    public void StatsCountThePortExits()
    {
        var (code, serial, output, _) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "compute32.elf"), "--stats");
        Assert.Equal(1, code);
        var stats = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Where(p => p.Length == 2 && ulong.TryParse(p[1], out _)).ToDictionary(p => p[0], p => ulong.Parse(p[1]));
        Assert.Equal((ulong)serial.Length + 1, stats["io_exits"]);
        Assert.True(stats["exits"] >= stats["io_exits"]);
    }

    [Fact]
    public void GicOptionIsIgnoredForX86()
    {
        var (code, serial, _, _) = Softkvm("run", "--arch", "x86_64", "--gic", "v2", "--kernel", Path.Combine(Guests(), "compute32.elf"));
        Assert.Equal(1, code);
        Assert.EndsWith("PASS\n", serial);
    }

    [Fact]
    public void NonMultibootKernelIsOneLineExit2()
    {
        var (code, _, _, error) = Softkvm("run", "--arch", "x86_64", "--kernel", Path.Combine(Guests(), "longmode", "main64.c"));
        Assert.Equal(2, code);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Multiboot", error);
    }
}

using System.Runtime.CompilerServices;
using System.Text;

namespace SoftKvm.Cli.Tests;

/// <summary>
/// <c>softkvm</c> in-process with the real machines (<see cref="MachineWiring.Default"/>) and captured
/// output, and the committed guest programs of guests/ found from this source file (the test binaries
/// may live in any artifacts folder).
/// </summary>
internal static class RealCli
{
    /// <summary>Runs <c>softkvm</c> with <paramref name="args"/>: exit code, serial bytes as UTF-8, standard output and errors.</summary>
    public static (int Code, string Serial, string Out, string Error) Run(params string[] args) => RunWithInput(null, args);

    /// <summary>As <see cref="Run"/>, with <paramref name="input"/> as the console input (null: none).</summary>
    public static (int Code, string Serial, string Out, string Error) RunWithInput(Stream? input, params string[] args)
    {
        var serial = new MemoryStream();
        var output = new StringWriter();
        var error = new StringWriter();
        var env = new CliEnvironment { Out = output, Error = error, SerialOutput = serial, Input = input };
        int code = SoftKvmCli.Run(args, env, MachineWiring.Default());
        return (code, Encoding.UTF8.GetString(serial.ToArray()), output.ToString(), error.ToString());
    }

    /// <summary>The folder guests/<paramref name="relative"/> of the repository.</summary>
    public static string GuestsDir(string relative, [CallerFilePath] string source = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(source)!);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "guests", relative)))
        {
            dir = dir.Parent;
        }

        return dir is null ? throw new DirectoryNotFoundException($"guests/{relative} not found") : Path.Combine(dir.FullName, "guests", relative);
    }
}

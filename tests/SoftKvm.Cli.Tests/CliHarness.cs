using System.Text;
using SoftKvm.Vmm.Arm64;
using SoftKvm.Vmm.Machines;
using SoftKvm.Vmm.Tests.Fakes;

namespace SoftKvm.Cli.Tests;

/// <summary>Invokes the command in-process with captured output.</summary>
internal sealed class CliHarness
{
    public CliHarness(FakeArm64Backend? backend = null)
    {
        Backend = backend;
        Catalog = new MachineCatalog(
            new Arm64VirtMachineBuilder(backend),
            new UnavailableMachineBuilder("x86_64", "the x86 PC machine is not wired in yet"));
    }

    public FakeArm64Backend? Backend { get; }

    public MachineCatalog Catalog { get; }

    public StringWriter Out { get; } = new();

    public StringWriter Error { get; } = new();

    public MemoryStream Serial { get; } = new();

    public string SerialText => Encoding.ASCII.GetString(Serial.ToArray());

    public string[] ErrorLines => Error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public int Run(params string[] args) => SoftKvmCli.Run(args, new CliEnvironment { Out = Out, Error = Error, SerialOutput = Serial }, Catalog);
}

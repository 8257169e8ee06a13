using System.CommandLine;
using SoftKvm.Vmm.Machines;

namespace SoftKvm.Cli;

/// <summary>
/// The <c>softkvm</c> command line (System.CommandLine). Parse errors and bad input end with one line
/// on stderr and exit code 2, never a stack trace.
/// </summary>
internal static class SoftKvmCli
{
    /// <summary>Runs the command with <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args, CliEnvironment env, MachineCatalog catalog)
    {
        var options = new RunOptions();
        var run = new Command("run", "Run a guest on a virtual machine (arm64 virt or x86_64 PC). On a terminal the console is raw: Ctrl-C goes to the guest, Ctrl-A x ends the run, Ctrl-A h lists the keys.");
        foreach (var option in options.All)
        {
            run.Options.Add(option);
        }

        var command = new RunCommand(env, catalog);
        run.SetAction(parse => command.Execute(parse, options));

        var restore = new Command("restore", "Continue a VM from a snapshot written by 'run --snapshot' (console and options as with run).");
        var snapshotFile = new Argument<string>("FILE") { Description = "the snapshot file" };
        var restoreArch = new Option<string?>("--arch") { Description = "refuse the snapshot unless it is of this architecture (arm64 or x86_64)", HelpName = "arm64|x86_64" };
        restore.Arguments.Add(snapshotFile);
        restore.Options.Add(restoreArch);
        foreach (var option in options.RestoreShared)
        {
            restore.Options.Add(option);
        }

        restore.SetAction(parse => command.ExecuteRestore(parse, options, snapshotFile, restoreArch));

        var info = new Command("memory-map", "Show the arm64 virt machine's memory map and interrupts.");
        info.SetAction(_ => MemoryMapTable.Write(env.Out));

        var root = new RootCommand("SoftKvm: a KVM-shaped hypervisor that runs arm64 and x86 guests in software.");
        root.Subcommands.Add(run);
        root.Subcommands.Add(restore);
        root.Subcommands.Add(info);
        root.SetAction(_ =>
        {
            env.Error.WriteLine("softkvm: no command given; try 'softkvm run' (the built-in demo) or 'softkvm --help'");
            return ExitCodes.BadInput;
        });

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            env.Error.WriteLine($"softkvm: {SoftKvm.Vmm.Loaders.InputFiles.OneLine(parse.Errors[0].Message)}");
            return ExitCodes.BadInput;
        }

        return parse.Invoke(new InvocationConfiguration { Output = env.Out, Error = env.Error, EnableDefaultExceptionHandler = false });
    }
}

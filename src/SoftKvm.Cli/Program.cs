using SoftKvm.Cli;

return SoftKvmCli.Run(args, CliEnvironment.FromConsole(), MachineWiring.Default());

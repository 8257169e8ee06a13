namespace SoftKvm.Cli;

/// <summary>What the command talks to: the console for the real program, buffers in tests.</summary>
internal sealed class CliEnvironment
{
    /// <summary>Messages and reports (--stats, --vgic-state).</summary>
    public required TextWriter Out { get; init; }

    /// <summary>Errors: one line each.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>The guest's serial output, byte for byte.</summary>
    public required Stream SerialOutput { get; init; }

    /// <summary>Console input for the guest, or null for none.</summary>
    public Stream? Input { get; init; }

    /// <summary>Whether stdin is an interactive terminal (raw mode, Ctrl-C handling).</summary>
    public bool InteractiveTerminal { get; init; }

    /// <summary>Whether to stop the guest on Ctrl-C (the real console).</summary>
    public bool HandleCtrlC { get; init; }

    /// <summary>The process's console.</summary>
    public static CliEnvironment FromConsole() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        SerialOutput = Console.OpenStandardOutput(),
        Input = Console.OpenStandardInput(),
        InteractiveTerminal = !Console.IsInputRedirected,
        HandleCtrlC = true,
    };
}

using Microsoft.Win32.SafeHandles;

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
        // File descriptor 0 read directly: .NET's console stream re-applies the terminal settings it
        // saved at start-up after every read, which would undo the raw mode (echo, line editing, ISIG).
        Input = OpenStandardInput(),
        InteractiveTerminal = !Console.IsInputRedirected,
        HandleCtrlC = true,
    };

    private static Stream? OpenStandardInput()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Console.OpenStandardInput();
        }

        try
        {
            return new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
            return null; // no usable standard input (closed): the guest gets no console input
        }
    }
}

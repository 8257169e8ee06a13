namespace SoftKvm.Vmm.Runner;

/// <summary>
/// QEMU's console escape for an interactive terminal (its <c>-nographic</c> convention): the terminal is
/// raw, so Ctrl-C and every other key go to the guest, and Ctrl-A starts a command for SoftKvm:
/// <c>Ctrl-A x</c> ends the run, <c>Ctrl-A s</c> saves a snapshot and ends the run (when the run has a snapshot file), <c>Ctrl-A h</c> prints the keys, <c>Ctrl-A Ctrl-A</c> sends one Ctrl-A to
/// the guest. Any other key after Ctrl-A is sent with the Ctrl-A, so nothing typed is lost. The state
/// survives between reads (a Ctrl-A at the end of one read and the command key in the next).
/// </summary>
public sealed class ConsoleEscape
{
    /// <summary>The escape key, Ctrl-A.</summary>
    public const byte EscapeKey = 0x01;

    /// <summary>What Ctrl-A h prints.</summary>
    public const string HelpText = "C-a h    print this help\r\nC-a x    exit softkvm\r\nC-a s    save a snapshot and exit (with --snapshot FILE)\r\nC-a C-a  send C-a to the guest\r\n";

    private readonly Action _quit;
    private readonly Action<string> _help;
    private readonly Action? _snapshot;
    private bool _escaped;

    /// <summary>
    /// Creates the filter: <paramref name="quit"/> on Ctrl-A x, <paramref name="help"/> with the help text on
    /// Ctrl-A h, <paramref name="snapshot"/> on Ctrl-A s (without one, Ctrl-A s goes to the guest as typed).
    /// </summary>
    public ConsoleEscape(Action quit, Action<string> help, Action? snapshot = null)
    {
        ArgumentNullException.ThrowIfNull(quit);
        ArgumentNullException.ThrowIfNull(help);
        _quit = quit;
        _help = help;
        _snapshot = snapshot;
    }

    /// <summary>
    /// Filters <paramref name="input"/> into <paramref name="output"/> (at least one byte longer than the
    /// input: a pending Ctrl-A may be flushed) and returns the number of bytes for the guest.
    /// </summary>
    public int Filter(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (output.Length < input.Length + 1)
        {
            throw new ArgumentException("the output must be one byte longer than the input", nameof(output));
        }

        int n = 0;
        foreach (byte b in input)
        {
            if (!_escaped)
            {
                if (b == EscapeKey)
                {
                    _escaped = true;
                }
                else
                {
                    output[n++] = b;
                }

                continue;
            }

            _escaped = false;
            switch (b)
            {
                case (byte)'x' or (byte)'X':
                    _quit();
                    break;
                case (byte)'s' or (byte)'S' when _snapshot is not null:
                    _snapshot();
                    break;
                case (byte)'h' or (byte)'H' or (byte)'?':
                    _help(HelpText);
                    break;
                case EscapeKey:
                    output[n++] = EscapeKey;
                    break;
                default:
                    output[n++] = EscapeKey;
                    output[n++] = b;
                    break;
            }
        }

        return n;
    }
}

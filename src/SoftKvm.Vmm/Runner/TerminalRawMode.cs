using System.Runtime.InteropServices;

namespace SoftKvm.Vmm.Runner;

/// <summary>
/// Puts the controlling terminal of standard input into raw mode for the guest's serial console (no line
/// editing, no echo: every key goes to the guest at once) and restores the saved settings on
/// <see cref="Dispose"/>, on process exit and after Ctrl-C. As QEMU's stdio backend does, output
/// post-processing (OPOST) stays on. Signals are off (ISIG clear) as with QEMU's <c>-nographic</c>: Ctrl-C
/// is a key for the guest (it interrupts the guest's foreground program, not SoftKvm); the
/// <see cref="ConsoleEscape"/> Ctrl-A x ends the run. Does nothing when standard input is not a terminal
/// or the host is not Linux.
/// </summary>
public sealed unsafe class TerminalRawMode : IDisposable
{
    // struct termios on Linux (x86-64 and arm64 glibc): four tcflag_t, c_line, c_cc[32], two speed_t; 60 bytes.
    private const int TermiosSize = 64;
    private const int OflagOffset = 4;
    private const uint Opost = 0x1;
    private const int TcsaNow = 0;

    private readonly byte[] _saved = new byte[TermiosSize];
    private int _restored;

    private TerminalRawMode()
    {
    }

    /// <summary>Whether the terminal is in raw mode now.</summary>
    public bool Active => Volatile.Read(ref _restored) == 0;

    /// <summary>Enters raw mode when stdin is a Linux terminal; null otherwise.</summary>
    public static TerminalRawMode? TryEnter()
    {
        if (!OperatingSystem.IsLinux() || Console.IsInputRedirected)
        {
            return null;
        }

        try
        {
            var mode = new TerminalRawMode();
            fixed (byte* saved = mode._saved)
            {
                if (isatty(0) != 1 || tcgetattr(0, saved) != 0)
                {
                    return null;
                }

                byte* raw = stackalloc byte[TermiosSize];
                new Span<byte>(saved, TermiosSize).CopyTo(new Span<byte>(raw, TermiosSize));
                cfmakeraw(raw);
                *(uint*)(raw + OflagOffset) |= Opost;
                if (tcsetattr(0, TcsaNow, raw) != 0)
                {
                    return null;
                }
            }

            AppDomain.CurrentDomain.ProcessExit += (_, _) => mode.Dispose();
            return mode;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Restores the terminal settings saved on entry (idempotent, any thread).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0)
        {
            return;
        }

        fixed (byte* saved = _saved)
        {
            _ = tcsetattr(0, TcsaNow, saved);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int isatty(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int tcgetattr(int fd, byte* termios);

    [DllImport("libc", SetLastError = true)]
    private static extern int tcsetattr(int fd, int optionalActions, byte* termios);

    [DllImport("libc")]
    private static extern void cfmakeraw(byte* termios);
}

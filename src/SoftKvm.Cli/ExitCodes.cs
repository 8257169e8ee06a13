namespace SoftKvm.Cli;

/// <summary>The exit codes of <c>softkvm</c>.</summary>
internal static class ExitCodes
{
    /// <summary>The guest powered off (or reset), or the command did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>Bad input: a missing or unreadable file, not a kernel image, a bad option value, memory too small, a machine not available.</summary>
    public const int BadInput = 2;

    /// <summary>An internal error exit of the guest, or an unexpected host failure.</summary>
    public const int InternalError = 3;

    /// <summary>Stopped by SIGTERM (128 + 15, as a shell reports it); Ctrl-C (SIGINT) gives 130.</summary>
    public const int Terminated = 143;
}

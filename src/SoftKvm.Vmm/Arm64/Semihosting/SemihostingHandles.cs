namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>What a semihosting handle refers to.</summary>
internal enum HandleKind
{
    /// <summary>":tt" opened for reading: console input.</summary>
    ConsoleIn,

    /// <summary>":tt" opened for writing: console output.</summary>
    ConsoleOut,

    /// <summary>":tt" opened for appending: diagnostics (stderr).</summary>
    ConsoleErr,

    /// <summary>A host file under the root, or the ":semihosting-features" file.</summary>
    File,
}

/// <summary>
/// An open semihosting handle: a console end or a stream, and whether writes append; for a file, the name the
/// guest opened and the SYS_OPEN mode (a restored snapshot opens the file again by them).
/// </summary>
internal sealed record SemihostingHandle(HandleKind Kind, Stream? Stream = null, bool Append = false)
{
    /// <summary>The guest's name of the file (":semihosting-features" included), null for a console end.</summary>
    public string? Name { get; init; }

    /// <summary>The SYS_OPEN mode (0..11) a host file was opened with.</summary>
    public int Mode { get; init; }
}

/// <summary>
/// SYS_OPEN's mode numbers (the spec's table 6-3: the ISO C <c>fopen</c> modes "r", "rb", "r+", "r+b", "w",
/// "wb", "w+", "w+b", "a", "ab", "a+", "a+b") as host file modes; binary and text are the same on the host.
/// </summary>
internal static class OpenModes
{
    public const int Count = 12;

    /// <summary>The <see cref="FileMode"/>, <see cref="FileAccess"/> and append flag of <paramref name="mode"/> (0..11).</summary>
    public static (FileMode Mode, FileAccess Access, bool Append) Of(int mode) => (mode >> 1) switch
    {
        0 => (FileMode.Open, FileAccess.Read, false),
        1 => (FileMode.Open, FileAccess.ReadWrite, false),
        2 => (FileMode.Create, FileAccess.Write, false),
        3 => (FileMode.Create, FileAccess.ReadWrite, false),
        4 => (FileMode.OpenOrCreate, FileAccess.Write, true),
        _ => (FileMode.OpenOrCreate, FileAccess.ReadWrite, true),
    };

    /// <summary>The console end ":tt" opens as: read modes the input, write modes the output, append modes stderr (SH_EXT_STDOUT_STDERR).</summary>
    public static HandleKind ConsoleOf(int mode) => mode < 4 ? HandleKind.ConsoleIn : mode < 8 ? HandleKind.ConsoleOut : HandleKind.ConsoleErr;
}

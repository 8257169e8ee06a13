using SoftKvm.Vmm.Errors;
using SoftKvm.Vmm.Loaders;

namespace SoftKvm.Cli;

/// <summary>
/// Where the guest's console goes (<c>--serial</c>): <c>stdio</c> (the default: output to standard output,
/// standard input to the guest, a raw terminal when interactive), <c>file:PATH</c> (output written to
/// PATH, no input, as QEMU's <c>-serial file:</c>) or <c>none</c> (output dropped, no input).
/// </summary>
internal sealed class SerialRoute : IDisposable
{
    private readonly FileStream? _file;

    private SerialRoute(Stream output, bool connectsInput, FileStream? file)
    {
        Output = output;
        ConnectsInput = connectsInput;
        _file = file;
    }

    /// <summary>The stream the guest's console output is written to.</summary>
    public Stream Output { get; }

    /// <summary>Whether standard input reaches the guest (and the terminal may be made raw).</summary>
    public bool ConnectsInput { get; }

    /// <summary>Opens the route <paramref name="text"/> names; a bad one is a <see cref="ConfigurationException"/> (exit code 2).</summary>
    public static SerialRoute Open(string text, Stream stdout)
    {
        if (text == "stdio")
        {
            return new SerialRoute(stdout, true, null);
        }

        if (text == "none")
        {
            return new SerialRoute(Stream.Null, false, null);
        }

        if (text.StartsWith("file:", StringComparison.Ordinal) && text.Length > "file:".Length)
        {
            string path = text["file:".Length..];
            try
            {
                var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
                return new SerialRoute(file, false, file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new ConfigurationException($"--serial file:{path} cannot be written: {InputFiles.OneLine(e.Message)}");
            }
        }

        throw new ConfigurationException($"invalid --serial '{text}': expected stdio, file:PATH or none");
    }

    /// <summary>Closes the file of a <c>file:</c> route.</summary>
    public void Dispose() => _file?.Dispose();
}

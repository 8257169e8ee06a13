using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Loaders;

/// <summary>Reads the VMM's input files, turning every failure into a one-line <see cref="InputFileException"/>.</summary>
public static class InputFiles
{
    /// <summary>The bytes of <paramref name="path"/>; <paramref name="what"/> ("kernel", "initrd") names it in errors.</summary>
    /// <exception cref="InputFileException">missing, a directory, unreadable, or larger than 2 GiB.</exception>
    public static byte[] ReadAll(string path, string what)
    {
        Check(path, what);
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException or NotSupportedException)
        {
            throw new InputFileException($"{what} '{path}' cannot be read: {OneLine(e.Message)}");
        }
    }

    /// <summary>Checks that <paramref name="path"/> names a readable file without reading it.</summary>
    /// <exception cref="InputFileException">missing, a directory, or unreadable.</exception>
    public static void Check(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InputFileException($"{what} file name is empty");
        }

        if (Directory.Exists(path))
        {
            throw new InputFileException($"{what} '{path}' is a directory, not a file");
        }

        if (!File.Exists(path))
        {
            throw new InputFileException($"{what} '{path}' does not exist");
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InputFileException($"{what} '{path}' cannot be read: {OneLine(e.Message)}");
        }
    }

    /// <summary>The first line of a message.</summary>
    public static string OneLine(string message)
    {
        int nl = message.IndexOfAny(['\r', '\n']);
        return (nl < 0 ? message : message[..nl]).Trim();
    }
}

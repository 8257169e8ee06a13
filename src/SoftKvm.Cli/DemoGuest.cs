namespace SoftKvm.Cli;

/// <summary>The built-in demo guest (guests/arm64/demo), embedded in the command.</summary>
internal static class DemoGuest
{
    /// <summary>The number of vCPUs the demo expects.</summary>
    public const int Cpus = 4;

    private const string ResourceName = "SoftKvm.Cli.demo.elf";

    /// <summary>Writes the demo ELF to a temporary file and returns its path, or null when this build has none.</summary>
    public static string? Extract()
    {
        using var stream = typeof(DemoGuest).Assembly.GetManifestResourceStream(ResourceName);
        if (stream is null)
        {
            return null;
        }

        string path = Path.Combine(Path.GetTempPath(), $"softkvm-demo-{Environment.ProcessId}-{Guid.NewGuid():N}.elf");
        using (var file = File.Create(path))
        {
            stream.CopyTo(file);
        }

        return path;
    }
}

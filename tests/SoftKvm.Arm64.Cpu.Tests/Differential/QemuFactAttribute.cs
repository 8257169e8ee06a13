namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>A fact that needs qemu-aarch64 and the aarch64 cross compiler; skipped with the reason when either is absent.</summary>
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (QemuReference.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A fact that runs only when an environment variable is set (tools that write files, long runs).</summary>
public sealed class EnvironmentFactAttribute : FactAttribute
{
    public EnvironmentFactAttribute(string variable)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
        {
            Skip = $"set {variable} to run this (see tools/arm64-diff/README.md)";
        }
        else if (QemuReference.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}

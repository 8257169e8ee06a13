namespace SoftKvm.Vmm.Arm64;

/// <summary>An arm64 CPU model the backend offers (<c>softkvm run --cpu help</c> lists them).</summary>
/// <param name="Name">The name <c>--cpu</c> takes.</param>
/// <param name="Description">One line saying what it is.</param>
/// <param name="Options">
/// The options <c>--cpu NAME,KEY=VALUE</c> takes, as <c>KEY=VALUE1|VALUE2: what it chooses</c> (one), or null.
/// </param>
public sealed record Arm64CpuModelInfo(string Name, string Description, string? Options = null)
{
    /// <summary>The default model's name.</summary>
    public const string DefaultName = "cortex-a57";
}

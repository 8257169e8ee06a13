using SoftKvm.Vmm.Errors;

namespace SoftKvm.Vmm.Machines;

/// <summary>The machine builders by architecture name, as <c>--arch</c> selects them.</summary>
public sealed class MachineCatalog
{
    private readonly Dictionary<string, IMachineBuilder> _builders = new(StringComparer.Ordinal);

    /// <summary>Creates a catalog of <paramref name="builders"/>.</summary>
    public MachineCatalog(params IEnumerable<IMachineBuilder> builders)
    {
        foreach (var b in builders)
        {
            _builders[b.Architecture] = b;
        }
    }

    /// <summary>The architecture names, sorted.</summary>
    public IReadOnlyList<string> Architectures => [.. _builders.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The builder for <paramref name="architecture"/>.</summary>
    /// <exception cref="ConfigurationException">unknown architecture.</exception>
    public IMachineBuilder Get(string architecture) =>
        _builders.TryGetValue(architecture, out var b)
            ? b
            : throw new ConfigurationException($"unknown --arch '{architecture}' (expected {string.Join(" or ", Architectures)})");
}

using SoftKvm.Core.Errors;

namespace SoftKvm.Core.Stats;

/// <summary>
/// The ordered list of statistics one kind of object keeps (for example every arm64 vCPU). Built once;
/// a counter is addressed by its index, so incrementing it is one array access.
/// </summary>
public sealed class StatsSchema
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    /// <summary>Creates a schema from descriptor lists, concatenated in order.</summary>
    /// <exception cref="SoftKvmException">a name appears twice.</exception>
    public StatsSchema(StatScope scope, params IReadOnlyList<StatDescriptor>[] parts)
    {
        Scope = scope;
        var all = new List<StatDescriptor>();
        foreach (var part in parts)
        {
            foreach (var d in part)
            {
                if (!_index.TryAdd(d.Name, all.Count))
                {
                    throw new SoftKvmException($"statistic '{d.Name}' is declared twice");
                }

                all.Add(d);
            }
        }

        Descriptors = all;
    }

    /// <summary>Per vCPU or per VM.</summary>
    public StatScope Scope { get; }

    /// <summary>The descriptors, by index.</summary>
    public IReadOnlyList<StatDescriptor> Descriptors { get; }

    /// <summary>The index of <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name) => _index.TryGetValue(name, out int i) ? i : -1;
}

using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace SoftKvm.Architecture.Tests;

/// <summary>
/// The house, enforced: the built assemblies' references and the types each namespace uses follow
/// <see cref="HouseRules"/> (docs/architecture.md). A new project under src/ needs its row there.
/// </summary>
public sealed class LayerTests
{
    [Fact]
    public void Every_project_under_src_has_a_rule()
    {
        var names = SourceAssemblyNames();

        Assert.NotEmpty(names);
        Assert.All(names, n => Assert.True(HouseRules.AllowedReferences.ContainsKey(n),
            $"src/ builds the assembly '{n}', which has no row in HouseRules.AllowedReferences (and no reference from this test project)"));
        Assert.All(HouseRules.AllowedReferences.Keys, n => Assert.Contains(n, names));
    }

    [Fact]
    public void Assemblies_reference_only_the_layers_below_them()
    {
        var wrong = new List<string>();
        foreach (var (name, allowed) in HouseRules.AllowedReferences)
        {
            foreach (var r in Assembly.Load(name).GetReferencedAssemblies())
            {
                if (IsOurs(r.Name!) && !allowed.Contains(r.Name!))
                {
                    wrong.Add($"{name} -> {r.Name}");
                }
            }
        }

        Assert.True(wrong.Count == 0, "forbidden arrows: " + string.Join(", ", wrong));
    }

    [Fact]
    public void Namespaces_do_not_reach_across_a_forbidden_arrow()
    {
        var wrong = new List<string>();
        foreach (var name in HouseRules.AllowedReferences.Keys)
        {
            foreach (var type in Assembly.Load(name).GetTypes())
            {
                foreach (var (from, to, why) in HouseRules.ForbiddenNamespaceArrows)
                {
                    if (!InNamespace(type.Namespace, from))
                    {
                        continue;
                    }

                    foreach (var (used, where) in TypeUses.Of(type))
                    {
                        if (to.Any(t => InNamespace(used.Namespace, t)))
                        {
                            wrong.Add($"{type.FullName} ({where}) uses {used.FullName}: {why}");
                        }
                    }
                }
            }
        }

        Assert.True(wrong.Count == 0, "forbidden arrows:\n" + string.Join("\n", wrong.Distinct()));
    }

    [Fact]
    public void The_scan_sees_casts_calls_and_fields()
    {
        // The namespace check is only as good as its scan: a cast in a method body, a call and a field are found.
        var uses = TypeUses.Of(typeof(Probe)).Select(u => u.Used).ToList();

        Assert.Contains(typeof(Uri), uses);         // castclass
        Assert.Contains(typeof(Path), uses);        // call
        Assert.Contains(typeof(Version), uses);     // field
        Assert.Contains(typeof(DateOnly), uses);    // generic argument
    }

    private static bool IsOurs(string assembly) => assembly.StartsWith("SoftKvm.", StringComparison.Ordinal) || assembly == "softkvm";

    private static bool InNamespace(string? ns, string prefix) =>
        ns is not null && (ns == prefix || ns.StartsWith(prefix + ".", StringComparison.Ordinal));

    // The assembly names of the projects under src/ (AssemblyName, or the project name).
    private static List<string> SourceAssemblyNames()
    {
        string src = Path.Combine(RepositoryRoot(), "src");
        var names = new List<string>();
        foreach (var project in Directory.GetFiles(src, "*.csproj", SearchOption.AllDirectories))
        {
            string? assemblyName = XDocument.Load(project).Descendants("AssemblyName").FirstOrDefault()?.Value;
            names.Add(assemblyName ?? Path.GetFileNameWithoutExtension(project));
        }

        return names;
    }

    private static string RepositoryRoot([CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "..", ".."));

    private sealed class Probe
    {
        private Version? _version;

        public string Use(object o)
        {
            var list = new List<DateOnly>();
            _version = new Version(1, 0);
            return ((Uri)o).Host + Path.GetFileName("a/b") + list.Count + _version;
        }
    }
}

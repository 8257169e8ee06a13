namespace SoftKvm.Vmm.Arm64.Semihosting;

/// <summary>
/// The host directory SYS_OPEN is confined to (<c>softkvm run --semihosting-root DIR</c>). A guest's name is
/// taken relative to it (a leading '/' included, as in a chroot); the path is normalised, must stay inside the
/// root, and every component that exists is resolved through its symbolic links, each of which must also point
/// inside the root. What is opened is the resolved path. (A link created on the host between this check and the
/// open is not seen: the root confines a guest, not a concurrent host process.)
/// </summary>
internal sealed class SemihostingRoot
{
    private readonly string _root;

    /// <summary>Confines to <paramref name="directory"/>, which must exist (resolved through its own links once).</summary>
    public SemihostingRoot(string directory)
    {
        string full = Path.GetFullPath(directory);
        _root = Path.TrimEndingDirectorySeparator(new DirectoryInfo(full).ResolveLinkTarget(true)?.FullName ?? full);
    }

    /// <summary>The root, as resolved.</summary>
    public string FullPath => _root;

    /// <summary>The host path of guest name <paramref name="name"/>, or null when it leaves the root or is not a file name.</summary>
    public string? Resolve(string name)
    {
        if (name.Length == 0 || name.Contains('\0'))
        {
            return null;
        }

        string candidate = Path.GetFullPath(Path.Combine(_root, name.TrimStart('/')));
        if (!Inside(candidate) || candidate == _root)
        {
            return null;
        }

        // Walk the components below the root, following links; each step must stay inside.
        string current = _root;
        foreach (string part in candidate[(_root.Length + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                FileSystemInfo? target;
                try
                {
                    target = info.ResolveLinkTarget(true);
                }
                catch (IOException)
                {
                    return null; // a link loop
                }

                if (target is null || !Inside(target.FullName))
                {
                    return null;
                }

                next = target.FullName;
            }

            current = next;
        }

        return current;
    }

    private bool Inside(string path) =>
        path == _root || path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}

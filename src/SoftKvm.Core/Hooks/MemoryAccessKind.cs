namespace SoftKvm.Core.Hooks;

/// <summary>Which data accesses a <see cref="MemoryHook"/> sees.</summary>
[Flags]
public enum MemoryAccessKind
{
    /// <summary>A load.</summary>
    Read = 1,

    /// <summary>A store.</summary>
    Write = 2,

    /// <summary>Loads and stores.</summary>
    ReadWrite = Read | Write,
}

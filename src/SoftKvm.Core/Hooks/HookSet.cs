namespace SoftKvm.Core.Hooks;

/// <summary>The kinds of hook.</summary>
internal enum HookType
{
    Instruction,
    Block,
    Memory,
    Exception,
}

/// <summary>One installed hook: its delegate, the addresses it watches and, for memory hooks, the access kinds.</summary>
internal sealed record HookEntry(HookType Type, Delegate Hook, AddressRange Range, MemoryAccessKind Kinds);

/// <summary>An immutable snapshot of a VM's hooks, split by kind so a dispatch walks only its own array.</summary>
internal sealed class HookSet
{
    public static readonly HookSet Empty = new([]);

    private readonly HookEntry[] _all;

    private HookSet(HookEntry[] all)
    {
        _all = all;
        Instruction = Of(HookType.Instruction);
        Block = Of(HookType.Block);
        Memory = Of(HookType.Memory);
        Exception = Of(HookType.Exception);
    }

    public HookEntry[] Instruction { get; }

    public HookEntry[] Block { get; }

    public HookEntry[] Memory { get; }

    public HookEntry[] Exception { get; }

    public bool IsEmpty => _all.Length == 0;

    public HookSet With(HookEntry entry) => new([.. _all, entry]);

    public HookSet Without(HookEntry entry) => new([.. _all.Where(e => !ReferenceEquals(e, entry))]);

    private HookEntry[] Of(HookType type) => [.. _all.Where(e => e.Type == type)];
}

namespace SoftKvm.Core.Hooks;

/// <summary>
/// The embedder hooks of a VM (<see cref="Vm.Hooks"/>), shared by all of its vCPUs (docs/hooks.md). Hooks
/// may be added and removed from any thread at any time, also while vCPUs run: the set is published as an
/// immutable snapshot, and every vCPU takes the new one at its next request check (a block boundary),
/// before it runs another instruction. Each hook runs on the thread of the vCPU that hit it, so a hook
/// shared by several vCPUs must be thread-safe. With no hook installed the execution engines run exactly
/// as without this feature.
/// </summary>
public sealed class VmHooks
{
    private readonly object _lock = new();
    private HookSet _set = HookSet.Empty;

    /// <summary>Raised (on the changing thread) after the set of hooks changed; <see cref="Vm"/> asks every vCPU to take it.</summary>
    internal event Action? Changed;

    /// <summary>The current snapshot (empty when no hook is installed).</summary>
    internal HookSet Current => Volatile.Read(ref _set);

    /// <summary>Whether any hook is installed.</summary>
    public bool Any => !Current.IsEmpty;

    /// <summary>Adds a hook called before every instruction whose address is in <paramref name="range"/> (default: all).</summary>
    /// <returns>A handle; dispose it to remove the hook.</returns>
    public IDisposable AddInstructionHook(InstructionHook hook, AddressRange? range = null)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return Add(new HookEntry(HookType.Instruction, hook, range ?? AddressRange.All, 0));
    }

    /// <summary>Adds a hook called at the start of every basic block whose address is in <paramref name="range"/> (default: all).</summary>
    /// <returns>A handle; dispose it to remove the hook.</returns>
    public IDisposable AddBlockHook(BlockHook hook, AddressRange? range = null)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return Add(new HookEntry(HookType.Block, hook, range ?? AddressRange.All, 0));
    }

    /// <summary>
    /// Adds a hook called for every guest data access of the <paramref name="kinds"/> that touches
    /// <paramref name="range"/>. Only the pages of the range leave the CPU's software-TLB fast path, so
    /// accesses elsewhere cost what they did.
    /// </summary>
    /// <returns>A handle; dispose it to remove the hook.</returns>
    public IDisposable AddMemoryHook(MemoryHook hook, MemoryAccessKind kinds, AddressRange range)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if ((kinds & MemoryAccessKind.ReadWrite) == 0 || (kinds & ~MemoryAccessKind.ReadWrite) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(kinds), kinds, "reads, writes or both");
        }

        return Add(new HookEntry(HookType.Memory, hook, range, kinds));
    }

    /// <summary>Adds a hook called after every exception or interrupt the guest takes.</summary>
    /// <returns>A handle; dispose it to remove the hook.</returns>
    public IDisposable AddExceptionHook(ExceptionHook hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return Add(new HookEntry(HookType.Exception, hook, AddressRange.All, 0));
    }

    /// <summary>Removes every hook.</summary>
    public void Clear() => Publish(_ => HookSet.Empty);

    /// <summary>The hooks for <paramref name="vcpu"/> to run with, or null when none is installed (the CPU models' fast case).</summary>
    public CpuHooks? Bind(Vcpu vcpu)
    {
        var set = Current;
        return set.IsEmpty ? null : new CpuHooks(set, vcpu);
    }

    private Handle Add(HookEntry entry)
    {
        Publish(set => set.With(entry));
        return new Handle(this, entry);
    }

    private void Remove(HookEntry entry) => Publish(set => set.Without(entry));

    private void Publish(Func<HookSet, HookSet> change)
    {
        lock (_lock)
        {
            Volatile.Write(ref _set, change(_set));
        }

        Changed?.Invoke();
    }

    private sealed class Handle(VmHooks owner, HookEntry entry) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Remove(entry);
            }
        }
    }
}

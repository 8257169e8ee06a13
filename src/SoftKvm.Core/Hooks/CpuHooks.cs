namespace SoftKvm.Core.Hooks;

/// <summary>
/// The hooks one vCPU runs with: a snapshot of <see cref="VmHooks"/> bound to the vCPU the callbacks name.
/// The CPU models hold one (null when no hook is installed) and call it from their execution loops; the
/// rules every execution engine must honour for it are in docs/hooks.md#engines and on
/// <see cref="EveryInstruction"/> and <see cref="WatchesPage"/>.
/// </summary>
public sealed class CpuHooks
{
    private readonly HookSet _set;
    private readonly Vcpu _vcpu;

    // The block tracking of StartsBlock: the last block reported and the last instruction seen.
    private ulong _blockStart = ulong.MaxValue;
    private ulong _blockEnd = ulong.MaxValue;
    private ulong _lastAddress = ulong.MaxValue;
    private int _lastSize;
    private long _lastRetired = -1;

    internal CpuHooks(HookSet set, Vcpu vcpu)
    {
        _set = set;
        _vcpu = vcpu;
        EveryInstruction = set.Instruction.Length != 0 || set.Block.Length != 0;
        HasMemoryHooks = set.Memory.Length != 0;
        HasExceptionHooks = set.Exception.Length != 0;
    }

    /// <summary>
    /// Instruction or block hooks are installed: the engine must see every instruction, so it interprets
    /// (translated code, which runs many instructions per call, is not entered while this is true).
    /// </summary>
    public bool EveryInstruction { get; }

    /// <summary>Whether an instruction hook is installed.</summary>
    public bool HasInstructionHooks => _set.Instruction.Length != 0;

    /// <summary>Whether a block hook is installed.</summary>
    public bool HasBlockHooks => _set.Block.Length != 0;

    /// <summary>Memory hooks are installed: see <see cref="WatchesPage"/>.</summary>
    public bool HasMemoryHooks { get; }

    /// <summary>Exception hooks are installed.</summary>
    public bool HasExceptionHooks { get; }

    /// <summary>
    /// Whether a memory hook watches any byte of the 4 KiB page at <paramref name="page"/> for
    /// <paramref name="kind"/>. An engine must not put such a page in its software TLB (or any other fast
    /// path that skips <see cref="MemoryAccess"/>), so every access to it reaches the hook; other pages stay
    /// as fast as without hooks.
    /// </summary>
    public bool WatchesPage(ulong page, MemoryAccessKind kind)
    {
        page &= ~0xFFFUL;
        foreach (var e in _set.Memory)
        {
            if ((e.Kinds & kind) != 0 && e.Range.Overlaps(page, 0x1000))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the instruction at <paramref name="address"/> starts a basic block for the block hooks: it is
    /// where the last reported block ends (the straight-line flow ran into the next block), or control
    /// arrived there other than by the straight-line flow (<paramref name="flowArrived"/>: a branch, an
    /// exception entry, the start of a run) and it is neither the instruction the hooks last saw, run again
    /// (a kick or a hook restarted it: <paramref name="retired"/> unchanged), nor the one after it in the same
    /// block (a run that a budget or an exit ended between two instructions). <paramref name="retired"/> is
    /// the CPU's count of retired instructions.
    /// </summary>
    public bool StartsBlock(ulong address, bool flowArrived, long retired)
    {
        if (address == _blockEnd)
        {
            return true;
        }

        bool again = address == _lastAddress && retired == _lastRetired;
        bool next = address == _lastAddress + (ulong)_lastSize && retired == _lastRetired + 1 && address > _blockStart && address < _blockEnd;
        return flowArrived && !again && !next;
    }

    /// <summary>Calls the block hooks whose range holds <paramref name="address"/>, for the block of <paramref name="size"/> bytes there.</summary>
    public void Block(ulong address, int size)
    {
        _blockStart = address;
        _blockEnd = address + (ulong)size;
        foreach (var e in _set.Block)
        {
            if (e.Range.Contains(address))
            {
                ((BlockHook)e.Hook)(_vcpu, address, size);
            }
        }
    }

    /// <summary>
    /// Calls the instruction hooks whose range holds <paramref name="address"/>; an engine calls it before
    /// every instruction while <see cref="EveryInstruction"/> is true (after <see cref="StartsBlock"/> and
    /// <see cref="Block"/>), also when no instruction hook is installed: the block tracking uses it.
    /// </summary>
    public void Instruction(ulong address, int size, long retired)
    {
        _lastAddress = address;
        _lastSize = size;
        _lastRetired = retired;
        foreach (var e in _set.Instruction)
        {
            if (e.Range.Contains(address))
            {
                ((InstructionHook)e.Hook)(_vcpu, address, size);
            }
        }
    }

    /// <summary>Calls the memory hooks of <paramref name="kind"/> whose range the access touches.</summary>
    public void MemoryAccess(MemoryAccessKind kind, ulong address, int size, ulong value)
    {
        foreach (var e in _set.Memory)
        {
            if ((e.Kinds & kind) != 0 && e.Range.Overlaps(address, (ulong)size))
            {
                ((MemoryHook)e.Hook)(_vcpu, kind, address, size, value);
            }
        }
    }

    /// <summary>Calls the exception hooks.</summary>
    public void Exception(in GuestException exception)
    {
        foreach (var e in _set.Exception)
        {
            ((ExceptionHook)e.Hook)(_vcpu, in exception);
        }
    }
}

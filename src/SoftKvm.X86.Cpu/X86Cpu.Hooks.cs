using Iced.Intel;
using SoftKvm.Core.Hooks;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Embedder hooks (docs/hooks.md). Nothing here is on a path that runs without hooks: <see cref="Run"/>
/// chooses its loop once per call (<see cref="RunLoop{TMode}"/> is compiled twice, and the hooked form
/// never enters translated blocks); memory hooks keep the watched pages out of the software TLB, so only
/// accesses to them take the slow path that calls the hook; exception hooks are called after delivery.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private CpuHooks? _hooks;

    /// <summary>
    /// The hooks this CPU runs with (null: none, the normal case). Set on the vCPU's thread between runs;
    /// the TLB is flushed so that pages a memory hook watches leave it.
    /// </summary>
    public CpuHooks? Hooks
    {
        get => _hooks;
        set
        {
            _hooks = value;
            FlushTlb();
        }
    }

    /// <summary>How <see cref="RunLoop{TMode}"/> is compiled: with or without the instruction and block hooks.</summary>
    private interface IRunMode
    {
        static abstract bool Hooked { get; }
    }

    private struct PlainRun : IRunMode
    {
        public static bool Hooked => false;
    }

    private struct HookedRun : IRunMode
    {
        public static bool Hooked => true;
    }

    /// <summary>
    /// The instruction and block hooks before the instruction at RIP. True when the loop must start over: a
    /// hook moved RIP or asked the CPU to stop (a kick stops it before this instruction).
    /// </summary>
    private bool CallInstructionHooks(CpuHooks hooks, bool blockStart)
    {
        ulong rip = _regs.Rip;
        ulong address = LinearRip(rip);
        if (hooks.HasBlockHooks && hooks.StartsBlock(address, blockStart, InstructionsRetired))
        {
            hooks.Block(address, BlockSizeAtRip());
        }

        hooks.Instruction(address, TryDecodeNextRip(out _, out int length) ? length : 0, InstructionsRetired);

        return _regs.Rip != rip || Volatile.Read(ref _exitRequested) != 0;
    }

    private ulong LinearRip(ulong rip) => _bitness == 64 ? rip : (_regs.Seg[SegmentIndex.Cs].Base + rip) & 0xFFFFFFFF;

    /// <summary>
    /// The bytes of the basic block at RIP: up to and including the first instruction that is not plain
    /// straight-line code (Iced's flow control) or is HLT, within the page, at most 64 instructions; 0 when the first
    /// instruction cannot be decoded (its fetch then takes the fault).
    /// </summary>
    private int BlockSizeAtRip()
    {
        ulong start = _regs.Rip;
        int size = 0;
        try
        {
            for (int n = 0; n < 64; n++)
            {
                if (!TryDecodeNextRip(out ulong next, out int length))
                {
                    break;
                }

                size += length;
                if (_insn.FlowControl != FlowControl.Next || _insn.Mnemonic == Mnemonic.Hlt || (LinearRip(next) & 0xFFF) < (LinearRip(_regs.Rip) & 0xFFF))
                {
                    break;
                }

                _regs.Rip = next;
            }
        }
        finally
        {
            _regs.Rip = start;
        }

        return size;
    }

    /// <summary>Whether the page of <paramref name="linear"/> may enter the TLB for <paramref name="kind"/> (no memory hook watches it).</summary>
    private bool MayCache(ulong linear, AccessKind kind) =>
        kind == AccessKind.Fetch
        || _hooks is not { HasMemoryHooks: true } hooks
        || !hooks.WatchesPage(linear, kind == AccessKind.Write ? MemoryAccessKind.Write : MemoryAccessKind.Read);

    /// <summary>Reports a data access to the memory hooks, if any.</summary>
    private void HookAccess(MemoryAccessKind kind, ulong linear, int size, ulong value)
    {
        if (_hooks is { HasMemoryHooks: true } hooks)
        {
            hooks.MemoryAccess(kind, linear, size, value);
        }
    }

    /// <summary>Reports a delivered event to the exception hooks.</summary>
    private void HookException(CpuHooks hooks, int vector, uint error, ulong returnRip, bool external, bool software)
    {
        var kind = external ? GuestExceptionKind.Interrupt : software ? GuestExceptionKind.Software : GuestExceptionKind.Exception;
        hooks.Exception(new GuestException(kind, vector, error, returnRip, _regs.Rip));
    }
}

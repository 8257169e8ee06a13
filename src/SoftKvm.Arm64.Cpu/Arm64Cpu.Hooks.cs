using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Translation;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Core.Hooks;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Embedder hooks (docs/hooks.md). Nothing here is on a path that runs without hooks: instruction and block
/// hooks make the PE interpret through <see cref="_attention"/> (the flag the loop tests before every
/// instruction anyway, and which keeps translated blocks from being entered); memory hooks keep the
/// watched pages out of the software TLB (<see cref="Resolve"/>), so only accesses to them take the slow
/// path that calls the hook; exception hooks are called from exception entry. What another execution engine
/// must honour is said once, on <see cref="CpuHooks"/> and in docs/hooks.md#engines.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private CpuHooks? _hooks;

    /// <summary>
    /// The hooks this PE runs with (null: none, the normal case). Set on the vCPU's thread between runs (the
    /// hypervisor layer does it on <c>VcpuRequest.HooksChanged</c>); the TLB is flushed so that pages a memory
    /// hook watches leave it.
    /// </summary>
    public CpuHooks? Hooks
    {
        get => _hooks;
        set
        {
            _hooks = value;
            FlushTlb();
            UpdateAttention();
        }
    }

    /// <summary>
    /// The instruction and block hooks before the instruction at PC. True when the loop must start over:
    /// a hook moved PC or made a request (a kick stops the PE before this instruction).
    /// </summary>
    private bool CallInstructionHooks(CpuHooks hooks, ref int requests, bool blockEntry)
    {
        ulong pc = State.Pc;
        if (hooks.HasBlockHooks && hooks.StartsBlock(pc, blockEntry, Retired))
        {
            hooks.Block(pc, BlockSizeAt(pc));
        }

        hooks.Instruction(pc, 4, Retired);

        return State.Pc != pc || Volatile.Read(ref requests) != 0;
    }

    /// <summary>
    /// The bytes of the basic block at <paramref name="pc"/>: up to and including the first instruction that
    /// leaves the straight-line flow (a branch, or what ends a translated run, <see cref="BlockDiscovery.LeavesStraightLine"/>),
    /// within the page; 4 when the code cannot be read without a fault (the fetch then takes it).
    /// </summary>
    private int BlockSizeAt(ulong pc)
    {
        byte* host = (pc & 3) == 0 ? ResolveNoFill(pc, AccessKind.Execute, false) : null;
        if (host == null)
        {
            return 4;
        }

        int left = (int)(0x1000 - (pc & 0xFFF)) / 4;
        for (int i = 0; i < left; i++)
        {
            A64Op op = A64Decoder.Decode(((uint*)host)[i]);
            if (BlockDiscovery.IsDirectBranch(op) || BlockDiscovery.LeavesStraightLine(op))
            {
                return 4 * (i + 1);
            }
        }

        return 4 * left;
    }

    /// <summary>Whether the page of <paramref name="va"/> may enter the TLB for <paramref name="kind"/> (no memory hook watches it).</summary>
    private bool MayCache(ulong va, AccessKind kind) =>
        _hooks is not { HasMemoryHooks: true } hooks
        || !hooks.WatchesPage(va, kind == AccessKind.Write ? MemoryAccessKind.Write : MemoryAccessKind.Read);

    /// <summary>Set while a page-crossing read is done byte by byte, which the hooks see as one access.</summary>
    private bool _hookingSplit;

    /// <summary>Reports a data access to the memory hooks, if any.</summary>
    private void HookAccess(AccessKind kind, ulong va, int size, ulong value)
    {
        if (_hooks is { HasMemoryHooks: true } hooks && !_hookingSplit)
        {
            hooks.MemoryAccess(kind == AccessKind.Write ? MemoryAccessKind.Write : MemoryAccessKind.Read, va, size, value);
        }
    }

    /// <summary>Reports an exception entry to the exception hooks (called at the end of the entry).</summary>
    private void HookException(CpuHooks hooks, ulong vector, ulong returnAddress)
    {
        int group = (int)(vector >> 7);
        ulong esr = group == 0 ? State.EsrEl1 : 0;
        uint ec = (uint)(esr >> 26) & 0x3F;
        var kind = group != 0 ? GuestExceptionKind.Interrupt
            : ec is Esr.EcSvc64 or Esr.EcBrk64 ? GuestExceptionKind.Software
            : GuestExceptionKind.Exception;
        hooks.Exception(new GuestException(kind, group, esr, returnAddress, State.Pc));
    }
}

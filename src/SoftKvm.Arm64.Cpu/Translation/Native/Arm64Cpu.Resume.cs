using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Translation.Native;
using SoftKvm.Arm64.Cpu.Translation.Native.Ir;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Resuming native code after an access that left for the hypervisor (issue 19): a load or store the exit helper found
/// to be a stage-2 data abort (an MMIO access for the VMM) ends the run, as KVM's contract requires, and the hypervisor
/// completes it (the register written, PC past the access, the instruction retired). The block it left is still there:
/// the run loop's next pass goes on at the access's call site through the block's resume routine
/// (X64Lowering.ExitHelpers.cs) instead of looking a block up for the next PC, translating one and entering it, once
/// it has checked that nothing else happened in between: PC is past the access and the retired count one more (the
/// completion and nothing else ran), the code cache was not flushed and the block is alive, its mode is the PE's, and
/// enough budget is left for the block to reach its next check; the resume routine then runs the block's own entry
/// checks (an exit request, the budget, its words unchanged), which leave for the run loop with
/// <see cref="NativeBlock.ResumeOrdinal"/> where one fails.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private bool _resumeArming;
    private bool _resumeArmed;
    private ulong _resumePc;
    private int _resumePending;
    private int _resumeBlock;
    private long _resumeRetired;
    private long _resumeGeneration;
    private ulong _resumeModeKey;

    /// <summary>Native code resumed after an access the hypervisor completed (for the profile).</summary>
    internal long NativeResumes;

    /// <summary>The access at <paramref name="pc"/> leaves for the hypervisor from native code (in the exit helper).</summary>
    private void ArmResume(ulong pc)
    {
        _resumeArming = true;
        _resumePc = pc + 4;
        _resumePending = (int)(_context->Scratch >> 16); // what the block subtracts at its next count: its instructions since its last, the access's included
    }

    /// <summary>After native code left with a trap: the resume point of the access that left, if it was one (the block in the context).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every trap from native code; NativeAOT does not inline it on its own
    private void NoteResumePoint(NativeCodeCache cache)
    {
        if (_resumeArming)
        {
            _resumeArming = false;
            _resumeArmed = true;
            _resumeBlock = _context->ResumeBlock;
            _resumeRetired = Retired + 1; // the completion retires the access
            _resumeGeneration = cache.Generation;
            _resumeModeKey = _context->ModeKey;
        }
    }

    /// <summary>
    /// Whether native code goes on where the access noted last left (<paramref name="host"/>: the fetch of PC); the resume
    /// routine in <paramref name="code"/>, the count its block subtracts first in <paramref name="pending"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // every re-entry after a VMM exit: no call, no saving of six registers
    private bool TryResume(NativeCodeCache cache, uint* host, long budget, out nint code, out int pending)
    {
        code = 0;
        pending = 0;
        ulong pc = State.Pc;
        if (pc != _resumePc || Retired != _resumeRetired || cache.Generation != _resumeGeneration || budget < NativeTranslator.MaxInstructions)
        {
            return false;
        }

        // The block is alive, PC still fetches from its words (host: the PE's fetch of PC now), in the PE's mode; the
        // resume routine runs the block's entry checks, which compare its words with memory.
        NativeBlock block = cache.Block(_resumeBlock);
        BlockMode mode = CurrentBlockMode();
        if (block.Dead || block.Resume == 0 || host != (uint*)((byte*)block.Host + (long)(pc - block.Pc)) || block.Mode != mode
            || (_tagEl | ((ulong)mode << 16)) != _resumeModeKey)
        {
            return false;
        }

        NativeResumes++;
        code = block.Resume;
        pending = _resumePending;
        return true;
    }
}

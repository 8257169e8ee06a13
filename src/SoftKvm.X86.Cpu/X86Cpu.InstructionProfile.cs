using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// What runs outside native code, by instruction and mode, for <c>softkvm run --profile</c>: once
/// <see cref="ProfileInstructions"/> is called, every instruction the interpreter executes is counted by its
/// encoding (Iced's <see cref="Code"/>) and code size (16/32/64), and the IL blocks' instructions by code size.
/// Off, the interpreter tests one field; on, it adds one array increment (no allocation after the start).
/// </summary>
public sealed partial class X86Cpu
{
    private static readonly int s_codeCount = Enum.GetValues<Code>().Length;

    /// <summary>Interpreted instructions: [mode * codes + code], mode 0/1/2 = 16/32/64-bit code; null while not profiling.</summary>
    private long[]? _interpretedByCode;

    /// <summary>Instructions retired in IL blocks by mode (16/32/64-bit code).</summary>
    private readonly long[] _ilInstructionsByMode = new long[3];

    /// <summary>Interpreted instructions by why no block ran them (<see cref="LookUpOutcome"/>).</summary>
    private readonly long[] _interpretedByOutcome = new long[(int)LookUpOutcome.Count];

    /// <summary>Interpreted 64-bit instructions at whose place the native translator declined to start a block, by encoding.</summary>
    private long[]? _declinedByCode;

    /// <summary>Why the instruction the interpreter runs next was not run by a block (set by the look-up before it).</summary>
    private LookUpOutcome _lookUpOutcome;

    /// <summary>Why an interpreted instruction was not run by a block.</summary>
    private enum LookUpOutcome
    {
        /// <summary>No look-up before it: it follows another interpreted instruction (or the IL tier's place).</summary>
        Continued,

        /// <summary>Blocks may not run here (TF, RF, an armed breakpoint, an interrupt shadow, a fetch fault, unflat segments).</summary>
        NotAllowed,

        /// <summary>16/32-bit code (or native off) without a compiled IL block here (cold, compiling or declined).</summary>
        NoIlBlock,

        /// <summary>The native translator declined the instruction at the block's start.</summary>
        NativeDeclined,

        /// <summary>The native block is longer than the run's remaining budget.</summary>
        Budget,

        /// <summary>A run of one instruction (the vCPU waits for an interrupt window, or single-steps).</summary>
        SingleInstructionRun,

        /// <summary>The native block left before its first instruction (a TLB miss, a page crossing, MMIO, a fault).</summary>
        NativeLeftBefore,

        /// <summary>The native block was dropped (its code changed too often) or the code memory is full.</summary>
        NativeGone,

        Count,
    }

    /// <summary>Starts counting interpreted instructions by encoding and mode (<see cref="InstructionProfile"/>); idempotent.</summary>
    public void ProfileInstructions()
    {
        _declinedByCode ??= new long[s_codeCount];
        _interpretedByCode ??= new long[3 * s_codeCount];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountInterpreted()
    {
        if (_interpretedByCode is { } counts)
        {
            CountInterpreted(counts);
        }
    }

    private void CountInterpreted(long[] counts)
    {
        counts[(ModeIndex * s_codeCount) + (int)_insn.Code]++;
        _interpretedByOutcome[(int)_lookUpOutcome]++;
        if (_lookUpOutcome == LookUpOutcome.NativeDeclined)
        {
            _declinedByCode![(int)_insn.Code]++;
        }

        _lookUpOutcome = LookUpOutcome.Continued;
    }


    /// <summary>Why the native block at <paramref name="rip"/> ran nothing (profiling).</summary>
    private void NoteNativeDecline(ulong rip, long remaining)
    {
        ref var slot = ref _nativeSlots![(int)((rip ^ (rip >> 12)) & (NativeSlots - 1))];
        _lookUpOutcome = slot.Rip != rip || slot.Dirty ? LookUpOutcome.NativeGone
            : slot.Code == 0 ? (slot.Stale >= MaxNativeStale ? LookUpOutcome.NativeGone : LookUpOutcome.NativeDeclined)
            : slot.Count > remaining ? (remaining == 1 ? LookUpOutcome.SingleInstructionRun : LookUpOutcome.Budget)
            : LookUpOutcome.NativeLeftBefore;
    }

    private int ModeIndex => _bitness == 64 ? 2 : _bitness == 32 ? 1 : 0;

    /// <summary>
    /// The profile's counters: instructions by engine and mode (<c>interpreted_64</c>, <c>il_32</c>, ...) and the
    /// <paramref name="top"/> encodings the interpreter ran most (<c>interp64_Rep_stosq</c>: mode, then Iced's code
    /// name). Empty before <see cref="ProfileInstructions"/>.
    /// </summary>
    public IEnumerable<KeyValuePair<string, long>> InstructionProfile(int top = 30)
    {
        if (_interpretedByCode is not { } counts)
        {
            yield break;
        }

        string[] modes = ["16", "32", "64"];
        for (int m = 0; m < 3; m++)
        {
            long sum = 0;
            for (int c = 0; c < s_codeCount; c++)
            {
                sum += counts[(m * s_codeCount) + c];
            }

            if (sum != 0)
            {
                yield return new($"interpreted_{modes[m]}", sum);
            }
        }

        for (int m = 0; m < 3; m++)
        {
            if (_ilInstructionsByMode[m] != 0)
            {
                yield return new($"il_{modes[m]}", _ilInstructionsByMode[m]);
            }
        }

        for (int o = 0; o < (int)LookUpOutcome.Count; o++)
        {
            if (_interpretedByOutcome[o] != 0)
            {
                yield return new($"interpreted_because_{(LookUpOutcome)o}", _interpretedByOutcome[o]);
            }
        }

        var ranked = Enumerable.Range(0, counts.Length).Where(k => counts[k] != 0).OrderByDescending(k => counts[k]).Take(top);
        foreach (int k in ranked)
        {
            yield return new($"interp{modes[k / s_codeCount]}_{(Code)(k % s_codeCount)}", counts[k]);
        }

        long[] declined = _declinedByCode!;
        foreach (int k in Enumerable.Range(0, declined.Length).Where(k => declined[k] != 0).OrderByDescending(k => declined[k]).Take(top))
        {
            yield return new($"native_declined_{(Code)k}", declined[k]);
        }
    }
}

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

    /// <summary>Starts counting interpreted instructions by encoding and mode (<see cref="InstructionProfile"/>); idempotent.</summary>
    public void ProfileInstructions() => _interpretedByCode ??= new long[3 * s_codeCount];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CountInterpreted()
    {
        if (_interpretedByCode is { } counts)
        {
            counts[(ModeIndex * s_codeCount) + (int)_insn.Code]++;
        }
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
        long interpreted = 0;
        for (int m = 0; m < 3; m++)
        {
            long sum = 0;
            for (int c = 0; c < s_codeCount; c++)
            {
                sum += counts[(m * s_codeCount) + c];
            }

            interpreted += sum;
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

        var ranked = Enumerable.Range(0, counts.Length).Where(k => counts[k] != 0).OrderByDescending(k => counts[k]).Take(top);
        foreach (int k in ranked)
        {
            yield return new($"interp{modes[k / s_codeCount]}_{(Code)(k % s_codeCount)}", counts[k]);
        }
    }
}

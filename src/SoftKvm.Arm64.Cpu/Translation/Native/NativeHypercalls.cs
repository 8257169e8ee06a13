using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftKvm.Arm64.Cpu.Translation.Native;

/// <summary>
/// The part of <see cref="NativeContext"/> with which native code answers an HVC #0 itself (issue 19,
/// Arm64Cpu.Hypercalls.cs): when <see cref="Enabled"/>, a W0 equal to one of <see cref="Calls"/>' function IDs gets its
/// answer in X0, counted in the vCPU's statistics as the hypervisor counts the exit, with no call out of native code.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeHypercalls
{
    /// <summary>Non-zero when the calls below may be answered (cleared at every native run's start, set after the helper answered one).</summary>
    public int Enabled;

    /// <summary>The vCPU's <c>exits</c> statistic.</summary>
    public long* Exits;

    /// <summary>The vCPU's <c>hvc_exit_stat</c> statistic.</summary>
    public long* HvcExitStat;

    /// <summary>HVCs native code answered (for the profile).</summary>
    public long Count;

    /// <summary>Function ID (zero-extended; <see cref="FixedHypercalls.NoFunction"/> when unused) and answer, <see cref="FixedHypercalls.Capacity"/> of them.</summary>
    public HypercallAnswers Calls;
}

/// <summary>One function ID and its answer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct HypercallAnswer
{
    /// <summary>The SMCCC function ID, zero-extended.</summary>
    public ulong Function;

    /// <summary>X0 after the call.</summary>
    public ulong Answer;
}

/// <summary>The answers.</summary>
[InlineArray(FixedHypercalls.Capacity)]
internal struct HypercallAnswers
{
    private HypercallAnswer _element0;
}

/// <summary>Byte offsets of the <see cref="NativeHypercalls"/> fields from its start.</summary>
internal static unsafe class HypercallOffsets
{
    /// <summary><see cref="NativeHypercalls.Enabled"/>.</summary>
    public static readonly int Enabled = Of(h => (byte*)&h->Enabled);

    /// <summary><see cref="NativeHypercalls.Exits"/>.</summary>
    public static readonly int Exits = Of(h => (byte*)&h->Exits);

    /// <summary><see cref="NativeHypercalls.HvcExitStat"/>.</summary>
    public static readonly int HvcExitStat = Of(h => (byte*)&h->HvcExitStat);

    /// <summary><see cref="NativeHypercalls.Count"/>.</summary>
    public static readonly int Count = Of(h => (byte*)&h->Count);

    /// <summary><see cref="NativeHypercalls.Calls"/> (16 bytes an entry: the function, then the answer).</summary>
    public static readonly int Calls = Of(h => (byte*)&h->Calls);

    private delegate byte* FieldOf(NativeHypercalls* calls);

    private static int Of(FieldOf field)
    {
        NativeHypercalls calls = default;
        return (int)(field(&calls) - (byte*)&calls);
    }
}

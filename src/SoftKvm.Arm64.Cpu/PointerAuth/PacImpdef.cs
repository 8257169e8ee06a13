using System.Numerics;

namespace SoftKvm.Arm64.Cpu.PointerAuth;

/// <summary>
/// SoftKvm's IMPLEMENTATION DEFINED pointer authentication algorithm (ID_AA64ISAR1_EL1.API = GPI = 1),
/// chosen with <c>--cpu max,pauth=impdef</c>: two rounds of a folded 64x64→128-bit multiplication (the
/// high and low halves XORed) over the pointer, the modifier and both key halves, a few nanoseconds where
/// QARMA5 in software takes hundreds. Every input bit reaches every output bit, so a changed pointer,
/// modifier or key changes the code, but it is a fast keyed hash, not a cipher with QARMA's security
/// analysis: guests that need the architected algorithm's strength use <c>pauth=qarma5</c>.
/// </summary>
internal static class PacImpdef
{
    // Odd constants with mixed bits (the fractional digits of the golden ratio, pi and e); native code emits them too.
    internal const ulong P0 = 0x9E37_79B9_7F4A_7C15;
    internal const ulong P1 = 0x243F_6A88_85A3_08D3;
    internal const ulong P2 = 0xB7E1_5162_8AED_2A6B;
    internal const ulong P3 = 0x1319_8A2E_0370_7345;

    /// <summary>The code of <paramref name="data"/> under <paramref name="modifier"/> and the key (<paramref name="key0"/>, <paramref name="key1"/>).</summary>
    public static ulong ComputePac(ulong data, ulong modifier, ulong key0, ulong key1)
    {
        ulong a = data ^ key0, b = modifier ^ key1;
        ulong x = Fold(a ^ P0, b ^ P1);
        return Fold(x ^ BitOperations.RotateLeft(a, 32) ^ P2, BitOperations.RotateLeft(b, 29) ^ key0 ^ P3);
    }

    private static ulong Fold(ulong x, ulong y)
    {
        ulong hi = Math.BigMul(x, y, out ulong lo);
        return hi ^ lo;
    }
}

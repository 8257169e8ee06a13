namespace SoftKvm.Arm64.Cpu.PointerAuth;

/// <summary>
/// SoftKvm's IMPLEMENTATION DEFINED pointer authentication algorithm (ID_AA64ISAR1_EL1.API = GPI = 1),
/// max's default (<c>--cpu max,pauth=impdef</c>): one folded 64x64→128-bit multiplication (the high and low
/// halves XORed) of the pointer keyed with one key half against the modifier keyed with the other, a handful
/// of host instructions that native code emits inline where QARMA5 in software takes hundreds of nanoseconds.
/// The low half of the product carries every low input bit up into the code's bits, the high half every high
/// one down, so a changed pointer, modifier or key changes the code; but it is a fast keyed hash, not a cipher
/// with QARMA's security analysis: guests that need the architected algorithm's strength use <c>pauth=qarma5</c>.
/// This is the one definition: the interpreter (and the IL tier, through its handlers) calls it, and native code
/// (X64Lowering.PointerAuth.cs) emits the same steps.
/// </summary>
internal static class PacImpdef
{
    // Odd constants with mixed bits (the fractional digits of the golden ratio and of pi): with all-zero keys
    // (before a guest sets them) no input is multiplied by zero or one. Native code emits them too.
    internal const ulong P0 = 0x9E37_79B9_7F4A_7C15;
    internal const ulong P1 = 0x243F_6A88_85A3_08D3;

    /// <summary>The code of <paramref name="data"/> under <paramref name="modifier"/> and the key (<paramref name="key0"/>, <paramref name="key1"/>).</summary>
    public static ulong ComputePac(ulong data, ulong modifier, ulong key0, ulong key1)
    {
        ulong hi = Math.BigMul(data ^ key0 ^ P0, modifier ^ key1 ^ P1, out ulong lo);
        return hi ^ lo;
    }
}

using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// Individual FP/SIMD instruction forms the generator produces although their decode-table row (a whole
/// Advanced SIMD encoding class) is not generated as a whole yet: the estimates, FRECPX, FCVTXN, FRECPS,
/// FRSQRTS and the saturating doubling multiplies. Each pattern is the exact encoding of one form with
/// its register, size and index fields as <c>x</c> (bit 31 first), reserved size/Q combinations left out.
/// They are register-only data processing, so no constraint beyond the pattern is needed. The harness
/// compares V0-V31 (FPCR = 0 on both sides); FPSR flags, FPCR.FZ/DN and the rounding modes are checked
/// against qemu-aarch64 by the FpSimd cases (Cpu/FpSimd/gen_cases.py).
/// </summary>
internal static class A64FocusedForms
{
    /// <summary>Name, pattern.</summary>
    public static readonly (string Name, string Pattern)[] Forms =
    [
        // Two-register miscellaneous: 0 Q U 01110 size 10000 opcode 10 Rn Rd
        ("FRECPE (vector, single)", "0x001110" + "10" + "10000" + "11101" + "10" + "xxxxxxxxxx"),
        ("FRECPE (vector, double)", "01001110" + "11" + "10000" + "11101" + "10" + "xxxxxxxxxx"),
        ("FRSQRTE (vector, single)", "0x101110" + "10" + "10000" + "11101" + "10" + "xxxxxxxxxx"),
        ("FRSQRTE (vector, double)", "01101110" + "11" + "10000" + "11101" + "10" + "xxxxxxxxxx"),
        ("URECPE", "0x001110" + "10" + "10000" + "11100" + "10" + "xxxxxxxxxx"),
        ("URSQRTE", "0x101110" + "10" + "10000" + "11100" + "10" + "xxxxxxxxxx"),
        ("FCVTXN{2}", "0x101110" + "01" + "10000" + "10110" + "10" + "xxxxxxxxxx"),

        // Scalar two-register miscellaneous: 01 U 11110 size 10000 opcode 10 Rn Rd
        ("FRECPE (scalar)", "01011110" + "1x" + "10000" + "11101" + "10" + "xxxxxxxxxx"),
        ("FRSQRTE (scalar)", "01111110" + "1x" + "10000" + "11101" + "10" + "xxxxxxxxxx"),
        ("FRECPX", "01011110" + "1x" + "10000" + "11111" + "10" + "xxxxxxxxxx"),
        ("FCVTXN (scalar)", "01111110" + "01" + "10000" + "10110" + "10" + "xxxxxxxxxx"),

        // Three same (FP): 0 Q U 01110 a sz 1 Rm opcode 1 Rn Rd; scalar 01 U 11110 ...
        ("FRECPS (vector, single)", "0x001110" + "00" + "1" + "xxxxx" + "11111" + "1" + "xxxxxxxxxx"),
        ("FRECPS (vector, double)", "01001110" + "01" + "1" + "xxxxx" + "11111" + "1" + "xxxxxxxxxx"),
        ("FRSQRTS (vector, single)", "0x001110" + "10" + "1" + "xxxxx" + "11111" + "1" + "xxxxxxxxxx"),
        ("FRSQRTS (vector, double)", "01001110" + "11" + "1" + "xxxxx" + "11111" + "1" + "xxxxxxxxxx"),
        ("FRECPS (scalar)", "01011110" + "0x" + "1" + "xxxxx" + "11111" + "1" + "xxxxxxxxxx"),
        ("FRSQRTS (scalar)", "01011110" + "1x" + "1" + "xxxxx" + "11111" + "1" + "xxxxxxxxxx"),

        // Three same (integer): SQDMULH (U=0) / SQRDMULH (U=1), opcode 10110, sizes H and S
        ("SQDMULH (vector, H)", "0x001110" + "01" + "1" + "xxxxx" + "10110" + "1" + "xxxxxxxxxx"),
        ("SQDMULH (vector, S)", "0x001110" + "10" + "1" + "xxxxx" + "10110" + "1" + "xxxxxxxxxx"),
        ("SQRDMULH (vector, H)", "0x101110" + "01" + "1" + "xxxxx" + "10110" + "1" + "xxxxxxxxxx"),
        ("SQRDMULH (vector, S)", "0x101110" + "10" + "1" + "xxxxx" + "10110" + "1" + "xxxxxxxxxx"),
        ("SQDMULH (scalar)", "01011110" + "01" + "1" + "xxxxx" + "10110" + "1" + "xxxxxxxxxx"),
        ("SQRDMULH (scalar)", "01111110" + "10" + "1" + "xxxxx" + "10110" + "1" + "xxxxxxxxxx"),

        // Three different: 0 Q 0 01110 size 1 Rm opcode 00 Rn Rd; scalar 01 0 11110 ...
        ("SQDMLAL{2} (H)", "0x001110" + "01" + "1" + "xxxxx" + "1001" + "00" + "xxxxxxxxxx"),
        ("SQDMLSL{2} (S)", "0x001110" + "10" + "1" + "xxxxx" + "1011" + "00" + "xxxxxxxxxx"),
        ("SQDMULL{2} (H)", "0x001110" + "01" + "1" + "xxxxx" + "1101" + "00" + "xxxxxxxxxx"),
        ("SQDMLAL (scalar, S)", "01011110" + "10" + "1" + "xxxxx" + "1001" + "00" + "xxxxxxxxxx"),
        ("SQDMLSL (scalar, H)", "01011110" + "01" + "1" + "xxxxx" + "1011" + "00" + "xxxxxxxxxx"),
        ("SQDMULL (scalar, S)", "01011110" + "1" + "0" + "1" + "xxxxx" + "1101" + "00" + "xxxxxxxxxx"),

        // By element: 0 Q U 01111 size L M Rm opcode H 0 Rn Rd; scalar 01 U 11111 ...
        ("SQDMULH (by element, H)", "0x001111" + "01" + "xx" + "xxxx" + "1100" + "x" + "0" + "xxxxxxxxxx"),
        ("SQRDMULH (by element, S)", "0x001111" + "10" + "xx" + "xxxx" + "1101" + "x" + "0" + "xxxxxxxxxx"),
        ("SQDMULL{2} (by element, S)", "0x001111" + "10" + "xx" + "xxxx" + "1011" + "x" + "0" + "xxxxxxxxxx"),
        ("SQDMLAL{2} (by element, H)", "0x001111" + "01" + "xx" + "xxxx" + "0011" + "x" + "0" + "xxxxxxxxxx"),
        ("SQDMLSL{2} (by element, S)", "0x001111" + "10" + "xx" + "xxxx" + "0111" + "x" + "0" + "xxxxxxxxxx"),
        ("SQDMULH (scalar, by element)", "01011111" + "01" + "xx" + "xxxx" + "1100" + "x" + "0" + "xxxxxxxxxx"),
        ("SQRDMULH (scalar, by element)", "01011111" + "10" + "xx" + "xxxx" + "1101" + "x" + "0" + "xxxxxxxxxx"),
        ("SQDMLAL (scalar, by element)", "01011111" + "10" + "xx" + "xxxx" + "0011" + "x" + "0" + "xxxxxxxxxx"),
        ("SQDMULL (scalar, by element)", "01011111" + "01" + "xx" + "xxxx" + "1011" + "x" + "0" + "xxxxxxxxxx"),
        ("FMULX (by element, single)", "0x101111" + "10" + "xx" + "xxxx" + "1001" + "x" + "0" + "xxxxxxxxxx"),
        ("FMULX (by element, double)", "01101111" + "11" + "0x" + "xxxx" + "1001" + "x" + "0" + "xxxxxxxxxx"),
        ("FMULX (scalar, by element)", "01111111" + "10" + "xx" + "xxxx" + "1001" + "x" + "0" + "xxxxxxxxxx"),
    ];

    /// <summary>
    /// The forms of the max model's instructions that live in the FP/SIMD encoding classes (generated only
    /// for the max model, against qemu -cpu max): RDM, DotProd, FCMA, FRINT32/64, FJCVTZS.
    /// </summary>
    public static readonly (string Name, string Pattern)[] MaxForms =
    [
        // Three same (extra): 0 Q U 01110 size 0 Rm 1 opcode 1 Rn Rd; scalar 01 U 11110 ...
        ("SQRDMLAH (vector, H)", "0x101110" + "01" + "0" + "xxxxx" + "1" + "0000" + "1" + "xxxxxxxxxx"),
        ("SQRDMLSH (vector, S)", "0x101110" + "10" + "0" + "xxxxx" + "1" + "0001" + "1" + "xxxxxxxxxx"),
        ("SQRDMLAH (scalar, S)", "01111110" + "10" + "0" + "xxxxx" + "1" + "0000" + "1" + "xxxxxxxxxx"),
        ("SQRDMLSH (scalar, H)", "01111110" + "01" + "0" + "xxxxx" + "1" + "0001" + "1" + "xxxxxxxxxx"),
        ("SDOT (vector)", "0x001110" + "10" + "0" + "xxxxx" + "1" + "0010" + "1" + "xxxxxxxxxx"),
        ("UDOT (vector)", "0x101110" + "10" + "0" + "xxxxx" + "1" + "0010" + "1" + "xxxxxxxxxx"),
        ("FCMLA (vector, single)", "0x101110" + "10" + "0" + "xxxxx" + "1" + "10xx" + "1" + "xxxxxxxxxx"),
        ("FCMLA (vector, double)", "01101110" + "11" + "0" + "xxxxx" + "1" + "10xx" + "1" + "xxxxxxxxxx"),
        ("FCADD (vector, single)", "0x101110" + "10" + "0" + "xxxxx" + "1" + "11x0" + "1" + "xxxxxxxxxx"),
        ("FCADD (vector, double)", "01101110" + "11" + "0" + "xxxxx" + "1" + "11x0" + "1" + "xxxxxxxxxx"),

        // By element: 0 Q U 01111 size L M Rm opcode H 0 Rn Rd
        ("SQRDMLAH (by element, S)", "0x101111" + "10" + "xx" + "xxxx" + "1101" + "x" + "0" + "xxxxxxxxxx"),
        ("SQRDMLSH (by element, H)", "0x101111" + "01" + "xx" + "xxxx" + "1111" + "x" + "0" + "xxxxxxxxxx"),
        ("SQRDMLAH (scalar, by element, H)", "01111111" + "01" + "xx" + "xxxx" + "1101" + "x" + "0" + "xxxxxxxxxx"),
        ("SDOT (by element)", "0x001111" + "10" + "xx" + "xxxx" + "1110" + "x" + "0" + "xxxxxxxxxx"),
        ("UDOT (by element)", "0x101111" + "10" + "xx" + "xxxx" + "1110" + "x" + "0" + "xxxxxxxxxx"),
        ("FCMLA (by element, single)", "01101111" + "10" + "0x" + "xxxx" + "0xx1" + "x" + "0" + "xxxxxxxxxx"),

        // FRINT32Z/X, FRINT64Z/X: scalar (FP data-processing 1 source, opcode 0100xx) and vector (two-reg misc 1111x)
        ("FRINT32/64 (scalar)", "00011110" + "0x" + "1" + "0100xx" + "10000" + "xxxxxxxxxx"),
        ("FRINT32/64 (vector, single)", "0xx01110" + "00" + "10000" + "1111x" + "10" + "xxxxxxxxxx"),
        ("FRINT32/64 (vector, double)", "01x01110" + "01" + "10000" + "1111x" + "10" + "xxxxxxxxxx"),
        ("FJCVTZS", "0001111001111110000000" + "xxxxxxxxxx"),

        // Crypto: AES (opcode 001xx), SHA three-register (opcode 0-6), SHA two-register (opcode 0-2), SHA3, SHA512, SM3, SM4, PMULL 1Q
        ("AESE/AESD/AESMC/AESIMC", "01001110" + "00" + "10100" + "001xx" + "10" + "xxxxxxxxxx"),
        ("SHA1C/P/M/SU0, SHA256H/H2", "01011110" + "00" + "0" + "xxxxx" + "0" + "0xx" + "00" + "xxxxxxxxxx"),
        ("SHA256H/H2/SU1", "01011110" + "00" + "0" + "xxxxx" + "0" + "10x" + "00" + "xxxxxxxxxx"),
        ("SHA256SU1", "01011110" + "00" + "0" + "xxxxx" + "0" + "110" + "00" + "xxxxxxxxxx"),
        ("SHA1H/SHA1SU1", "01011110" + "00" + "10100" + "0000x" + "10" + "xxxxxxxxxx"),
        ("SHA256SU0", "01011110" + "00" + "10100" + "00010" + "10" + "xxxxxxxxxx"),
        ("EOR3/BCAX", "110011100" + "0x" + "xxxxx" + "0" + "xxxxx" + "xxxxxxxxxx"),
        ("XAR", "11001110100" + "xxxxx" + "xxxxxx" + "xxxxxxxxxx"),
        ("SHA512H/H2/SU1, RAX1", "11001110011" + "xxxxx" + "1" + "0" + "00" + "xx" + "xxxxxxxxxx"),
        ("SHA512SU0", "1100111011000000100000" + "xxxxxxxxxx"),
        ("SM3SS1", "110011100" + "10" + "xxxxx" + "0" + "xxxxx" + "xxxxxxxxxx"),
        ("SM3TT1A/1B/2A/2B", "11001110010" + "xxxxx" + "10" + "xx" + "xx" + "xxxxxxxxxx"),
        ("SM3PARTW1/2, SM4EKEY", "11001110011" + "xxxxx" + "1" + "1" + "00" + "xx" + "xxxxxxxxxx"),
        ("SM4E", "1100111011000000100001" + "xxxxxxxxxx"),
        ("PMULL{2} (1Q)", "0x001110" + "11" + "1" + "xxxxx" + "1110" + "00" + "xxxxxxxxxx"),
    ];

    /// <summary>The (mask, value) of a pattern.</summary>
    public static (uint Mask, uint Value) Encoding(string pattern)
    {
        if (pattern.Length != 32)
        {
            throw new ArgumentException($"pattern '{pattern}' has {pattern.Length} bits", nameof(pattern));
        }

        uint mask = 0, value = 0;
        for (int i = 0; i < 32; i++)
        {
            int bit = 31 - i;
            if (pattern[i] != 'x')
            {
                mask |= 1u << bit;
                value |= (pattern[i] == '1' ? 1u : 0u) << bit;
            }
        }

        return (mask, value);
    }

    /// <summary>The decode-table row every word of the form decodes to (-1 if words of it decode to different rows).</summary>
    public static int Row(string pattern)
    {
        var (mask, value) = Encoding(pattern);
        return A64Decoder.MatchingRow(value | ~mask) == A64Decoder.MatchingRow(value) ? A64Decoder.MatchingRow(value) : -1;
    }
}

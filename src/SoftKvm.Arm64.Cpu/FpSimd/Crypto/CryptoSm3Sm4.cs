using System.Numerics;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// FEAT_SM3 (SM3SS1, SM3TT1A/B, SM3TT2A/B, SM3PARTW1/2) and FEAT_SM4 (SM4E, SM4EKEY), per the Arm ARM's
/// pseudocode: the rounds and message expansion of the SM3 hash (GB/T 32905) and the rounds and key
/// expansion of the SM4 block cipher (GB/T 32907) on the 32-bit lanes of a vector. SM3SS1 shares its
/// encoding class with EOR3/BCAX, SM3PARTW1/2 and SM4EKEY with SHA512H (O = 1), SM4E with SHA512SU0;
/// those handlers (CryptoSha512Sha3.cs) call into this file.
/// </summary>
public sealed partial class Arm64Cpu
{
    /// <summary>
    /// The SM4 S-box: S(x) = A·(A·x ⊕ 0xD3)⁻¹ ⊕ 0xD3 in GF(2⁸) modulo x⁸+x⁷+x⁶+x⁵+x⁴+x²+1, A the standard's
    /// circulant affine matrix (the table of GB/T 32907).
    /// </summary>
    private static ReadOnlySpan<byte> Sm4Sbox =>
    [
        0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
        0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
        0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
        0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
        0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
        0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
        0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
        0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
        0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
        0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
        0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
        0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
        0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
        0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
        0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
        0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,
    ];

    [A64Handler(A64Op.CryptoSm3Tt)]
    private Flow CryptoSm3Tt(uint insn)
    {
        if (!Has(CpuFeatures.Sm3))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int rd = (int)insn & 31;
        int index = (int)(insn >> 12) & 3;
        Vec d = GetV(rd), n = GetV((int)(insn >> 5) & 31), m = GetV((int)(insn >> 16) & 31);
        uint d0 = Word(d, 0), d1 = Word(d, 1), d2 = Word(d, 2), d3 = Word(d, 3), w = Word(m, index);
        uint top;
        uint rotated;
        switch ((insn >> 10) & 3)
        {
            case 0: // SM3TT1A
            case 1: // SM3TT1B
            {
                uint ss2 = Word(n, 3) ^ BitOperations.RotateLeft(d3, 12);
                uint boolean = ((insn >> 10) & 3) == 0 ? d1 ^ d3 ^ d2 : (d3 & d1) | (d3 & d2) | (d1 & d2);
                top = boolean + d0 + ss2 + w;
                rotated = BitOperations.RotateLeft(d2, 9);
                break;
            }

            default: // SM3TT2A, SM3TT2B
            {
                uint boolean = ((insn >> 10) & 3) == 2 ? d1 ^ d3 ^ d2 : (d3 & d2) | (~d3 & d1);
                uint tt2 = boolean + d0 + Word(n, 3) + w;
                top = Sm3P0(tt2);
                rotated = BitOperations.RotateLeft(d2, 19);
                break;
            }
        }

        SetV(rd, Words(d1, rotated, d3, top), true);
        return Flow.Next;
    }

    /// <summary>SM3SS1 (the four-register class with op0 = 2).</summary>
    private Flow Sm3Ss1(uint insn)
    {
        if (!Has(CpuFeatures.Sm3))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        Vec n = GetV((int)(insn >> 5) & 31), m = GetV((int)(insn >> 16) & 31), a = GetV((int)(insn >> 10) & 31);
        uint top = BitOperations.RotateLeft(BitOperations.RotateLeft(Word(n, 3), 12) + Word(m, 3) + Word(a, 3), 7);
        SetV((int)insn & 31, Words(0, 0, 0, top), true);
        return Flow.Next;
    }

    /// <summary>SM3PARTW1 (opcode 0), SM3PARTW2 (1), SM4EKEY (2): the SHA512 three-register class with O = 1.</summary>
    private Flow Sm3Sm4ThreeRegister(uint insn, int opcode)
    {
        if (opcode == 3 || !Has(opcode == 2 ? CpuFeatures.Sm4 : CpuFeatures.Sm3))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int rd = (int)insn & 31;
        Vec d = GetV(rd), n = GetV((int)(insn >> 5) & 31), m = GetV((int)(insn >> 16) & 31);
        Vec r;
        switch (opcode)
        {
            case 0:
            {
                // SM3PARTW1
                Span<uint> x = stackalloc uint[4];
                for (int i = 0; i < 3; i++)
                {
                    x[i] = Word(d, i) ^ Word(n, i) ^ BitOperations.RotateLeft(Word(m, i + 1), 15);
                }

                for (int i = 0; i < 3; i++)
                {
                    x[i] = Sm3P1(x[i]);
                }

                x[3] = Sm3P1(Word(d, 3) ^ Word(n, 3) ^ BitOperations.RotateLeft(x[0], 15));
                r = Words(x[0], x[1], x[2], x[3]);
                break;
            }

            case 1:
            {
                // SM3PARTW2
                Span<uint> t = stackalloc uint[4];
                for (int i = 0; i < 4; i++)
                {
                    t[i] = Word(n, i) ^ BitOperations.RotateLeft(Word(m, i), 7);
                }

                uint p = Sm3P1(BitOperations.RotateLeft(t[0], 15));
                r = Words(Word(d, 0) ^ t[0], Word(d, 1) ^ t[1], Word(d, 2) ^ t[2], Word(d, 3) ^ t[3] ^ p);
                break;
            }

            default:
                // SM4EKEY: four rounds of the key expansion, constants from Vm
                r = Sm4Rounds(n, m, key: true);
                break;
        }

        SetV(rd, r, true);
        return Flow.Next;
    }

    /// <summary>SM4E (the SHA512 two-register class with opcode 1): four encryption rounds of Vd with the round keys in Vn.</summary>
    private Flow Sm4Encrypt(uint insn)
    {
        if (!Has(CpuFeatures.Sm4))
        {
            return Undefined();
        }

        if (!FpEnabled())
        {
            return Flow.Exception;
        }

        int rd = (int)insn & 31;
        SetV(rd, Sm4Rounds(GetV(rd), GetV((int)(insn >> 5) & 31), key: false), true);
        return Flow.Next;
    }

    /// <summary>
    /// Four SM4 rounds on <paramref name="state"/> (X0 in lane 0 … X3 in lane 3) with the round keys (or, for
    /// the key expansion, the CK constants) in the lanes of <paramref name="keys"/>: each round substitutes
    /// X1 ⊕ X2 ⊕ X3 ⊕ key through the S-box, applies the linear transform (L for encryption, L′ for the key
    /// schedule), XORs X0 and shifts the lanes down.
    /// </summary>
    private static Vec Sm4Rounds(Vec state, Vec keys, bool key)
    {
        uint x0 = Word(state, 0), x1 = Word(state, 1), x2 = Word(state, 2), x3 = Word(state, 3);
        for (int i = 0; i < 4; i++)
        {
            uint t = x3 ^ x2 ^ x1 ^ Word(keys, i);
            t = (uint)(Sm4Sbox[(int)(t >> 24)] << 24 | Sm4Sbox[(int)(t >> 16) & 0xff] << 16 | Sm4Sbox[(int)(t >> 8) & 0xff] << 8 | Sm4Sbox[(int)t & 0xff]);
            t = key
                ? t ^ BitOperations.RotateLeft(t, 13) ^ BitOperations.RotateLeft(t, 23)
                : t ^ BitOperations.RotateLeft(t, 2) ^ BitOperations.RotateLeft(t, 10) ^ BitOperations.RotateLeft(t, 18) ^ BitOperations.RotateLeft(t, 24);
            (x0, x1, x2, x3) = (x1, x2, x3, t ^ x0);
        }

        return Words(x0, x1, x2, x3);
    }

    private static uint Sm3P0(uint x) => x ^ BitOperations.RotateLeft(x, 9) ^ BitOperations.RotateLeft(x, 17);

    private static uint Sm3P1(uint x) => x ^ BitOperations.RotateLeft(x, 15) ^ BitOperations.RotateLeft(x, 23);

    private static uint Word(Vec v, int lane) => (uint)v.Get(lane, 2);

    private static Vec Words(uint w0, uint w1, uint w2, uint w3) => new(w0 | ((ulong)w1 << 32), w2 | ((ulong)w3 << 32));
}

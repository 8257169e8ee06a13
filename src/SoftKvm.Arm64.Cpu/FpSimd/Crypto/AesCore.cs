using System.Runtime.Intrinsics;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;
using X86Pclmulqdq = System.Runtime.Intrinsics.X86.Pclmulqdq;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The AES rounds of FEAT_AES (AESE, AESD, AESMC, AESIMC on the A64 byte order: byte i of the vector is
/// row i mod 4, column i / 4 of the state) and the 64x64 carry-less multiply of PMULL (FEAT_PMULL), each
/// with the host's instructions where it has them (AES-NI, PCLMULQDQ) and a portable path otherwise.
/// AESE = AESENCLAST(state ^ key, 0); AESD = AESDECLAST(state ^ key, 0); AESMC = AESENC(AESDECLAST(x, 0), 0)
/// (the inverse and forward ShiftRows/SubBytes cancel, leaving MixColumns); AESIMC = AESIMC.
/// </summary>
internal static class AesCore
{
    private static readonly byte[] s_sbox = BuildSbox();
    private static readonly byte[] s_inverseSbox = Invert(s_sbox);

    /// <summary>Whether the host instructions are used (tests turn it off to check the portable path).</summary>
    public static bool UseHostInstructions { get; set; } = X86Aes.IsSupported && X86Pclmulqdq.IsSupported;

    /// <summary>AESE: AddRoundKey, ShiftRows, SubBytes.</summary>
    public static Vec Encrypt(Vec state, Vec key)
    {
        Vec x = new(state.Lo ^ key.Lo, state.Hi ^ key.Hi);
        if (UseHostInstructions)
        {
            return FromHost(X86Aes.EncryptLast(ToHost(x), Vector128<byte>.Zero));
        }

        return SubBytes(ShiftRows(x, false), s_sbox);
    }

    /// <summary>AESD: AddRoundKey, InvShiftRows, InvSubBytes.</summary>
    public static Vec Decrypt(Vec state, Vec key)
    {
        Vec x = new(state.Lo ^ key.Lo, state.Hi ^ key.Hi);
        if (UseHostInstructions)
        {
            return FromHost(X86Aes.DecryptLast(ToHost(x), Vector128<byte>.Zero));
        }

        return SubBytes(ShiftRows(x, true), s_inverseSbox);
    }

    /// <summary>AESMC: MixColumns.</summary>
    public static Vec MixColumns(Vec x)
    {
        if (UseHostInstructions)
        {
            return FromHost(X86Aes.Encrypt(X86Aes.DecryptLast(ToHost(x), Vector128<byte>.Zero), Vector128<byte>.Zero));
        }

        return Mix(x, false);
    }

    /// <summary>AESIMC: InvMixColumns.</summary>
    public static Vec InverseMixColumns(Vec x) =>
        UseHostInstructions ? FromHost(X86Aes.InverseMixColumns(ToHost(x))) : Mix(x, true);

    /// <summary>The 128-bit carry-less product of two 64-bit polynomials over GF(2).</summary>
    public static Vec CarrylessMultiply(ulong a, ulong b)
    {
        if (UseHostInstructions)
        {
            var r = X86Pclmulqdq.CarrylessMultiply(Vector128.CreateScalar(a), Vector128.CreateScalar(b), 0);
            return new Vec(r.GetElement(0), r.GetElement(1));
        }

        ulong lo = 0, hi = 0;
        for (int i = 0; i < 64; i++)
        {
            if (((b >> i) & 1) != 0)
            {
                lo ^= a << i;
                hi ^= i == 0 ? 0 : a >> (64 - i);
            }
        }

        return new Vec(lo, hi);
    }

    private static Vector128<byte> ToHost(Vec v) => Vector128.Create(v.Lo, v.Hi).AsByte();

    private static Vec FromHost(Vector128<byte> v) => new(v.AsUInt64().GetElement(0), v.AsUInt64().GetElement(1));

    private static Vec ShiftRows(Vec x, bool inverse)
    {
        Vec r = default;
        for (int c = 0; c < 4; c++)
        {
            for (int row = 0; row < 4; row++)
            {
                int from = inverse ? (c - row + 4) & 3 : (c + row) & 3;
                r.Set(row + (4 * c), 0, x.Get(row + (4 * from), 0));
            }
        }

        return r;
    }

    private static Vec SubBytes(Vec x, byte[] box)
    {
        Vec r = default;
        for (int i = 0; i < 16; i++)
        {
            r.Set(i, 0, box[x.Get(i, 0)]);
        }

        return r;
    }

    private static Vec Mix(Vec x, bool inverse)
    {
        Vec r = default;
        for (int c = 0; c < 4; c++)
        {
            byte a0 = (byte)x.Get(4 * c, 0), a1 = (byte)x.Get((4 * c) + 1, 0), a2 = (byte)x.Get((4 * c) + 2, 0), a3 = (byte)x.Get((4 * c) + 3, 0);
            if (!inverse)
            {
                r.Set(4 * c, 0, (byte)(Mul(a0, 2) ^ Mul(a1, 3) ^ a2 ^ a3));
                r.Set((4 * c) + 1, 0, (byte)(a0 ^ Mul(a1, 2) ^ Mul(a2, 3) ^ a3));
                r.Set((4 * c) + 2, 0, (byte)(a0 ^ a1 ^ Mul(a2, 2) ^ Mul(a3, 3)));
                r.Set((4 * c) + 3, 0, (byte)(Mul(a0, 3) ^ a1 ^ a2 ^ Mul(a3, 2)));
            }
            else
            {
                r.Set(4 * c, 0, (byte)(Mul(a0, 14) ^ Mul(a1, 11) ^ Mul(a2, 13) ^ Mul(a3, 9)));
                r.Set((4 * c) + 1, 0, (byte)(Mul(a0, 9) ^ Mul(a1, 14) ^ Mul(a2, 11) ^ Mul(a3, 13)));
                r.Set((4 * c) + 2, 0, (byte)(Mul(a0, 13) ^ Mul(a1, 9) ^ Mul(a2, 14) ^ Mul(a3, 11)));
                r.Set((4 * c) + 3, 0, (byte)(Mul(a0, 11) ^ Mul(a1, 13) ^ Mul(a2, 9) ^ Mul(a3, 14)));
            }
        }

        return r;
    }

    /// <summary>Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.</summary>
    private static byte Mul(byte a, byte b)
    {
        int r = 0, x = a;
        for (int i = 0; i < 8; i++)
        {
            if (((b >> i) & 1) != 0)
            {
                r ^= x;
            }

            x = (x << 1) ^ ((x & 0x80) != 0 ? 0x11B : 0);
        }

        return (byte)r;
    }

    // The S-box from its definition (FIPS 197 5.1.1): the multiplicative inverse, then the affine map.
    private static byte[] BuildSbox()
    {
        var box = new byte[256];
        for (int i = 0; i < 256; i++)
        {
            byte inv = 0;
            for (int j = 1; j < 256 && i != 0; j++)
            {
                if (Mul((byte)i, (byte)j) == 1)
                {
                    inv = (byte)j;
                    break;
                }
            }

            int s = inv;
            int result = s ^ 0x63;
            for (int k = 1; k <= 4; k++)
            {
                result ^= ((s << k) | (s >> (8 - k))) & 0xFF;
            }

            box[i] = (byte)result;
        }

        return box;
    }

    private static byte[] Invert(byte[] box)
    {
        var inverse = new byte[256];
        for (int i = 0; i < 256; i++)
        {
            inverse[box[i]] = (byte)i;
        }

        return inverse;
    }
}

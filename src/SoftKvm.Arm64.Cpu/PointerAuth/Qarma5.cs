using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftKvm.Arm64.Cpu.PointerAuth;

/// <summary>
/// QARMA5 as the Arm ARM (DDI 0487, J1.1.3 "shared/functions/crypto" ComputePAC) defines the pointer
/// authentication code: QARMA-64 with the S-box σ2 and five forward and five backward rounds, the
/// pointer as plaintext, the modifier as tweak, key0 as w0 and key1 as k0. Cells are 4-bit nibbles,
/// cell i being bits [4i+3:4i]. Checked against the test vector of the QARMA paper (Avanzi, ToSC 2017,
/// r = 5 with σ2), which the Arm ARM's function reproduces.
/// </summary>
internal static class Qarma5
{
    private const ulong Alpha = 0xC0AC_29B7_C97C_50DD;

    private static ReadOnlySpan<ulong> RoundConstants =>
    [
        0x0000_0000_0000_0000, 0x1319_8A2E_0370_7344, 0xA409_3822_299F_31D0, 0x082E_FA98_EC4E_6C89, 0x4528_21E6_38D0_1377,
    ];

    /// <summary>PACSub: σ2, the 4-bit S-box of the PRINCE family QARMA's third variant uses.</summary>
    private static ReadOnlySpan<byte> Sbox => [0xB, 0x6, 0x8, 0xF, 0xC, 0x0, 0x9, 0xE, 0x3, 0x7, 0x4, 0x5, 0xD, 0x2, 0x1, 0xA];

    /// <summary>PACInvSub: the inverse of <see cref="Sbox"/>.</summary>
    private static ReadOnlySpan<byte> InverseSbox => [0x5, 0xE, 0xD, 0x8, 0xA, 0xB, 0x1, 0x9, 0x2, 0x6, 0xF, 0x0, 0x4, 0xC, 0x7, 0x3];

    /// <summary>PACCellShuffle: output cell i is input cell <c>CellShuffle[i]</c>.</summary>
    private static ReadOnlySpan<byte> CellShuffle => [13, 6, 11, 0, 7, 12, 1, 10, 8, 3, 14, 5, 2, 9, 4, 15];

    /// <summary>PACCellInvShuffle: output cell i is input cell <c>CellInverseShuffle[i]</c>.</summary>
    private static ReadOnlySpan<byte> CellInverseShuffle => [3, 6, 12, 9, 14, 11, 1, 4, 8, 13, 7, 2, 5, 0, 10, 15];

    /// <summary>TweakShuffle: output cell i is input cell <c>TweakShuffleCells[i]</c>, rotated (TweakCellRot) where <see cref="TweakRotated"/> has bit i.</summary>
    private static ReadOnlySpan<byte> TweakShuffleCells => [4, 5, 6, 7, 11, 2, 3, 8, 12, 13, 14, 15, 0, 1, 10, 9];

    /// <summary>TweakInvShuffle: output cell i is input cell <c>TweakInverseCells[i]</c>, rotated back (TweakCellInvRot) where <see cref="TweakInverseRotated"/> has bit i.</summary>
    private static ReadOnlySpan<byte> TweakInverseCells => [12, 13, 5, 6, 0, 1, 2, 3, 7, 15, 14, 4, 8, 9, 10, 11];

    private const int TweakRotated = (1 << 2) | (1 << 4) | (1 << 7) | (1 << 11) | (1 << 12) | (1 << 14) | (1 << 15);
    private const int TweakInverseRotated = (1 << 0) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 15);

    /// <summary>
    /// ComputePAC(data, modifier, key0, key1), table-driven: every cell permutation (with the tweak's cell
    /// rotations) by eight byte-indexed tables, the S-box two cells at a time, PACMult on the whole word
    /// (<see cref="MultWord"/>). <see cref="Reference"/> is the pseudocode's cell-by-cell form it is tested against.
    /// </summary>
    public static ulong ComputePac(ulong data, ulong modifier, ulong key0, ulong key1)
    {
        ReadOnlySpan<ulong> rc = RoundConstants;
        ulong modk0 = (key0 << 63) | ((key0 >> 2) << 1) | (((key0 >> 63) ^ (key0 >> 1)) & 1);
        ulong runningMod = modifier;
        ulong work = data ^ key0;
        for (int i = 0; i <= 4; i++)
        {
            work ^= key1 ^ runningMod ^ rc[i];
            if (i > 0)
            {
                work = MultWord(Permute(work, Tables.Shuffle));
            }

            work = Permute(work, Tables.Sub);
            runningMod = Permute(runningMod, Tables.Tweak);
        }

        work ^= modk0 ^ runningMod;
        work = Permute(MultWord(Permute(work, Tables.Shuffle)), Tables.Sub);
        work = MultWord(Permute(work, Tables.Shuffle)) ^ key1;
        work = MultWord(Permute(Permute(work, Tables.InverseShuffle), Tables.InverseSub));
        work = Permute(work, Tables.InverseShuffle) ^ key0 ^ runningMod;
        for (int i = 0; i <= 4; i++)
        {
            work = Permute(work, Tables.InverseSub);
            if (i < 4)
            {
                work = Permute(MultWord(work), Tables.InverseShuffle);
            }

            runningMod = Permute(runningMod, Tables.InverseTweak);
            work ^= rc[4 - i] ^ key1 ^ runningMod ^ Alpha;
        }

        return work ^ modk0;
    }

    /// <summary>PACMult on the whole word: rows (16-bit groups) of the cells rotated by one and by two, combined by row rotations.</summary>
    private static ulong MultWord(ulong x)
    {
        ulong r1 = ((x << 1) & 0xEEEE_EEEE_EEEE_EEEE) | ((x >> 3) & 0x1111_1111_1111_1111);
        ulong r2 = ((x << 2) & 0xCCCC_CCCC_CCCC_CCCC) | ((x >> 2) & 0x3333_3333_3333_3333);
        return BitOperations.RotateRight(r1, 16) ^ BitOperations.RotateRight(r1, 48) ^ BitOperations.RotateRight(r2, 32);
    }

    /// <summary>A cell-wise map as eight byte-indexed tables: the OR of each byte's contribution (no bounds checks: every index is below 2048).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Permute(ulong x, ulong[] table)
    {
        ref ulong t = ref MemoryMarshal.GetArrayDataReference(table);
        return Unsafe.Add(ref t, (int)(x & 0xFF)) | Unsafe.Add(ref t, 256 + (int)((x >> 8) & 0xFF))
            | Unsafe.Add(ref t, 512 + (int)((x >> 16) & 0xFF)) | Unsafe.Add(ref t, 768 + (int)((x >> 24) & 0xFF))
            | Unsafe.Add(ref t, 1024 + (int)((x >> 32) & 0xFF)) | Unsafe.Add(ref t, 1280 + (int)((x >> 40) & 0xFF))
            | Unsafe.Add(ref t, 1536 + (int)((x >> 48) & 0xFF)) | Unsafe.Add(ref t, 1792 + (int)(x >> 56));
    }

    /// <summary>The byte tables, built once from the cell-by-cell functions (each output cell depends on one input cell).</summary>
    private static class Tables
    {
        public static readonly ulong[] Shuffle = Build(x => Qarma5.Shuffle(x, CellShuffle));
        public static readonly ulong[] InverseShuffle = Build(x => Qarma5.Shuffle(x, CellInverseShuffle));
        public static readonly ulong[] Tweak = Build(TweakShuffle);
        public static readonly ulong[] InverseTweak = Build(TweakInverseShuffle);
        public static readonly ulong[] Sub = BuildSub(Sbox);
        public static readonly ulong[] InverseSub = BuildSub(InverseSbox);

        private static ulong[] Build(Func<ulong, ulong> f)
        {
            var t = new ulong[8 * 256];
            for (int b = 0; b < 8; b++)
            {
                for (int v = 0; v < 256; v++)
                {
                    t[(b * 256) + v] = f((ulong)v << (8 * b));
                }
            }

            return t;
        }

        private static ulong[] BuildSub(ReadOnlySpan<byte> box)
        {
            var t = new ulong[8 * 256];
            for (int b = 0; b < 8; b++)
            {
                for (int v = 0; v < 256; v++)
                {
                    t[(b * 256) + v] = (ulong)(box[v & 15] | (box[v >> 4] << 4)) << (8 * b);
                }
            }

            return t;
        }
    }

    /// <summary>ComputePAC cell by cell, as the Arm ARM's pseudocode writes it.</summary>
    internal static ulong Reference(ulong data, ulong modifier, ulong key0, ulong key1)
    {
        ReadOnlySpan<ulong> rc = RoundConstants;
        // key0<0> : key0<63:2> : (key0<63> EOR key0<1>)
        ulong modk0 = (key0 << 63) | ((key0 >> 2) << 1) | (((key0 >> 63) ^ (key0 >> 1)) & 1);
        ulong runningMod = modifier;
        ulong work = data ^ key0;
        for (int i = 0; i <= 4; i++)
        {
            work ^= key1 ^ runningMod;
            work ^= rc[i];
            if (i > 0)
            {
                work = Shuffle(work, CellShuffle);
                work = Mult(work);
            }

            work = Substitute(work, Sbox);
            runningMod = TweakShuffle(runningMod);
        }

        work ^= modk0 ^ runningMod;
        work = Shuffle(work, CellShuffle);
        work = Mult(work);
        work = Substitute(work, Sbox);
        work = Shuffle(work, CellShuffle);
        work = Mult(work);
        work ^= key1;
        work = Shuffle(work, CellInverseShuffle);
        work = Substitute(work, InverseSbox);
        work = Mult(work);
        work = Shuffle(work, CellInverseShuffle);
        work ^= key0;
        work ^= runningMod;
        for (int i = 0; i <= 4; i++)
        {
            work = Substitute(work, InverseSbox);
            if (i < 4)
            {
                work = Mult(work);
                work = Shuffle(work, CellInverseShuffle);
            }

            runningMod = TweakInverseShuffle(runningMod);
            work ^= rc[4 - i];
            work ^= key1 ^ runningMod;
            work ^= Alpha;
        }

        return work ^ modk0;
    }

    private static ulong Cell(ulong x, int i) => (x >> (4 * i)) & 0xF;

    private static ulong Substitute(ulong x, ReadOnlySpan<byte> box)
    {
        ulong r = 0;
        for (int i = 0; i < 16; i++)
        {
            r |= (ulong)box[(int)Cell(x, i)] << (4 * i);
        }

        return r;
    }

    private static ulong Shuffle(ulong x, ReadOnlySpan<byte> from)
    {
        ulong r = 0;
        for (int i = 0; i < 16; i++)
        {
            r |= Cell(x, from[i]) << (4 * i);
        }

        return r;
    }

    /// <summary>RotCell: a 4-bit rotation left by <paramref name="amount"/>.</summary>
    private static ulong RotCell(ulong cell, int amount) => ((cell << amount) | (cell >> (4 - amount))) & 0xF;

    /// <summary>PACMult: the involutory MixColumns of QARMA over the 4x4 cell matrix (columns i, i+4, i+8, i+12).</summary>
    private static ulong Mult(ulong x)
    {
        ulong r = 0;
        for (int i = 0; i < 4; i++)
        {
            ulong c0 = Cell(x, i), c1 = Cell(x, i + 4), c2 = Cell(x, i + 8), c3 = Cell(x, i + 12);
            ulong t0 = RotCell(c2, 1) ^ RotCell(c1, 2) ^ RotCell(c0, 1);
            ulong t1 = RotCell(c3, 1) ^ RotCell(c1, 1) ^ RotCell(c0, 2);
            ulong t2 = RotCell(c3, 2) ^ RotCell(c2, 1) ^ RotCell(c0, 1);
            ulong t3 = RotCell(c3, 1) ^ RotCell(c2, 2) ^ RotCell(c1, 1);
            r |= (t3 << (4 * i)) | (t2 << (4 * (i + 4))) | (t1 << (4 * (i + 8))) | (t0 << (4 * (i + 12)));
        }

        return r;
    }

    /// <summary>TweakCellRot: one step of the tweak's LFSR (out = in&lt;0&gt; EOR in&lt;1&gt; : in&lt;3:1&gt;).</summary>
    private static ulong TweakCellRot(ulong c) => (c >> 1) | (((c ^ (c >> 1)) & 1) << 3);

    /// <summary>TweakCellInvRot: the inverse step (out = in&lt;2:0&gt; : in&lt;0&gt; EOR in&lt;3&gt;).</summary>
    private static ulong TweakCellInvRot(ulong c) => ((c << 1) & 0xE) | ((c ^ (c >> 3)) & 1);

    private static ulong TweakShuffle(ulong x)
    {
        ReadOnlySpan<byte> from = TweakShuffleCells;
        ulong r = 0;
        for (int i = 0; i < 16; i++)
        {
            ulong c = Cell(x, from[i]);
            r |= (((TweakRotated >> i) & 1) != 0 ? TweakCellRot(c) : c) << (4 * i);
        }

        return r;
    }

    private static ulong TweakInverseShuffle(ulong x)
    {
        ReadOnlySpan<byte> from = TweakInverseCells;
        ulong r = 0;
        for (int i = 0; i < 16; i++)
        {
            ulong c = Cell(x, from[i]);
            r |= (((TweakInverseRotated >> i) & 1) != 0 ? TweakCellInvRot(c) : c) << (4 * i);
        }

        return r;
    }
}

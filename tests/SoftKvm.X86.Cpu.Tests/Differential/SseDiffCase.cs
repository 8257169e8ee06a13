namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// The SSE extension of <see cref="DiffCase"/> (mirrors derive_sse and the -s hash of native/diffharness.c):
/// XMM0-15 and MXCSR derived from the seed, and the state hash that also covers them.
/// </summary>
internal static class SseDiffCase
{
    private static readonly uint[] SpecialSingles =
    [
        0, 0x80000000u, 0x3F800000u, 0xBF800000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
        0x7FA00000u, 0x00000001u, 0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu, 0x4F000000u, 0xCF000000u, 0x5F000000u,
    ];

    private static readonly ulong[] SpecialDoubles =
    [
        0, 0x8000000000000000UL, 0x3FF0000000000000UL, 0x7FF0000000000000UL, 0xFFF0000000000000UL,
        0x7FF8000000000000UL, 0x7FF4000000000000UL, 0x0000000000000001UL, 0x800FFFFFFFFFFFFFUL,
        0x0010000000000000UL, 0x7FEFFFFFFFFFFFFFUL, 0x41E0000000000000UL, 0xC3E0000000000000UL,
        0x43E0000000000000UL, 0x3FE0000000000000UL, 0x4330000000000000UL,
    ];

    private static ulong Half(ref ulong st)
    {
        ulong r = DiffCase.SplitMix(ref st), v = DiffCase.SplitMix(ref st);
        switch (r & 7)
        {
            case 0: return v;
            case 1: return SpecialSingles[(r >> 8) & 15] | ((ulong)SpecialSingles[(r >> 12) & 15] << 32);
            case 2: return SpecialDoubles[(r >> 8) & 15];
            case 3:
            {
                ulong a = (v & 0x807FFFFFu) | ((120 + ((r >> 8) & 15)) << 23);
                ulong b = ((v >> 32) & 0x807FFFFFu) | ((120 + ((r >> 12) & 15)) << 23);
                return a | (b << 32);
            }

            case 4: return (v & 0x800FFFFFFFFFFFFFUL) | ((1015 + ((r >> 8) & 15)) << 52);
            case 5: return v & 0x00FF00FF00FF00FFUL;
            case 6:
            {
                ulong a = (v & 0x807FFFFFu) | (((r >> 8) & 3) << 23);
                ulong b = ((v >> 32) & 0x807FFFFFu) | (((r >> 12) & 3) << 23);
                return a | (b << 32);
            }

            default:
            {
                ulong e = (r & 0x100) != 0 ? (r >> 9) & 3 : 2044 + ((r >> 9) & 3);
                return (v & 0x800FFFFFFFFFFFFFUL) | (e << 52);
            }
        }
    }

    public static void Derive(ulong seed, Span<ulong> xmm, out uint mxcsr, out ushort fcw)
    {
        ulong st = seed ^ 0x5353455353455353UL;
        for (int i = 0; i < 32; i++)
        {
            xmm[i] = Half(ref st);
        }

        ulong r = DiffCase.SplitMix(ref st);
        ulong m = 0x1F80 | ((r & 3) << 13);
        if (((r >> 2) & 3) == 0)
        {
            m |= 0x40;
        }

        if (((r >> 4) & 3) == 0)
        {
            m |= 0x8000;
        }

        if (((r >> 6) & 7) == 0)
        {
            m &= ~(0x80UL << (int)((r >> 9) % 6));
        }

        if (((r >> 12) & 1) == 0)
        {
            m |= (r >> 13) & 0x3F;
        }

        mxcsr = (uint)m;
        ulong f = DiffCase.SplitMix(ref st);
        ulong[] pc = [3, 3, 2, 0];
        fcw = (ushort)(0x7F | (pc[(f >> 2) & 3] << 8) | ((f & 3) << 10));
        if (((f >> 4) & 7) == 0)
        {
            fcw &= (ushort)~(1 << (int)((f >> 7) % 6));
        }
    }

    private static ulong Fnv(ulong h, ReadOnlySpan<byte> b)
    {
        foreach (byte x in b)
        {
            h ^= x;
            h *= 0x100000001B3UL;
        }

        return h;
    }

    private static ulong Fnv(ulong h, ulong v, int size = 8)
    {
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, v);
        return Fnv(h, b[..size]);
    }

    public static uint Hash(ulong kind, ulong ripOffset, ReadOnlySpan<ulong> gpr, ulong rflags, ulong flagsMask, ReadOnlySpan<byte> data,
        ReadOnlySpan<ulong> xmm, uint mxcsr)
    {
        ulong h = 0xCBF29CE484222325UL;
        h = Fnv(h, kind);
        h = Fnv(h, ripOffset);
        foreach (ulong g in gpr)
        {
            h = Fnv(h, g);
        }

        h = Fnv(h, rflags & flagsMask);
        h = Fnv(h, data);
        foreach (ulong x in xmm)
        {
            h = Fnv(h, x);
        }

        h = Fnv(h, mxcsr, 4);
        return (uint)(h ^ (h >> 32));
    }
}

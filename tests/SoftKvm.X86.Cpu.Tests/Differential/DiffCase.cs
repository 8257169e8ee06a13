using Iced.Intel;

namespace SoftKvm.X86.Cpu.Tests.Differential;

/// <summary>
/// The shared definition of a differential test case (mirrors native/diffharness.c): the initial
/// registers, RFLAGS and data page derived from a seed with splitmix64, the memory layout, and the
/// FNV-1a hash of the final state.
/// </summary>
internal static class DiffCase
{
    public const ulong CodeAddress = 0x800000;
    public const ulong DataAddress = 0xA00000;
    public const int DataSize = 4096;
    public const ulong R15Value = DataAddress + 0x200;
    public const ulong RspValue = DataAddress + 0xC00;

    private static readonly ulong[] Special =
    [
        0, 1, ulong.MaxValue, 0x80000000, 0x7FFFFFFF, 0x8000000000000000, 0xFFFFFFFF, 0x100000000, 0x80, 0x7F, 0xFF, 0x8000, 0xFFFF,
    ];

    public static ulong SplitMix(ref ulong s)
    {
        ulong z = s += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static void Derive(ulong seed, Span<ulong> gpr, out ulong rflags, Span<byte> data)
    {
        ulong st = seed;
        for (int i = 0; i < 16; i++)
        {
            ulong r = SplitMix(ref st);
            ulong v = SplitMix(ref st);
            gpr[i] = (r & 3) == 0 ? Special[(int)((r >> 8) % (ulong)Special.Length)] : (r & 3) == 1 ? v & 0xFF : v;
        }

        gpr[4] = RspValue;
        gpr[15] = R15Value;
        rflags = 0x202 | (SplitMix(ref st) & 0x8D5);
        for (int i = 0; i < DataSize; i += 8)
        {
            BitConverter.TryWriteBytes(data[i..], SplitMix(ref st));
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

    private static ulong Fnv(ulong h, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, v);
        return Fnv(h, b);
    }

    /// <summary>kind: 0 completed, else 0x100 + host signal number (SIGFPE 8, SIGSEGV 11, SIGILL 4, SIGBUS 7, SIGTRAP 5).</summary>
    public static uint Hash(ulong kind, ulong ripOffset, ReadOnlySpan<ulong> gpr, ulong rflags, ulong flagsMask, ReadOnlySpan<byte> data)
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
        return (uint)(h ^ (h >> 32));
    }
}

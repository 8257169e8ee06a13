using System.Runtime.CompilerServices;

namespace SoftKvm.Arm64.Cpu;

/// <summary>A 128-bit SIMD&amp;FP register value as two little-endian 64-bit halves, with element access.</summary>
internal struct Vec
{
    public ulong Lo;
    public ulong Hi;

    public Vec(ulong lo, ulong hi)
    {
        Lo = lo;
        Hi = hi;
    }

    /// <summary>Element <paramref name="index"/> of 8 &lt;&lt; <paramref name="sizeLog2"/> bits, zero-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly ulong Get(int index, int sizeLog2)
    {
        int bit = index << (sizeLog2 + 3);
        ulong half = bit >= 64 ? Hi : Lo;
        return sizeLog2 == 3 ? half : (half >> (bit & 63)) & ((1UL << (8 << sizeLog2)) - 1);
    }

    /// <summary>Element <paramref name="index"/>, sign-extended to 64 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly long GetSigned(int index, int sizeLog2)
    {
        int shift = 64 - (8 << sizeLog2);
        return (long)(Get(index, sizeLog2) << shift) >> shift;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(int index, int sizeLog2, ulong value)
    {
        int bit = index << (sizeLog2 + 3);
        ref ulong half = ref bit >= 64 ? ref Hi : ref Lo;
        if (sizeLog2 == 3)
        {
            half = value;
            return;
        }

        ulong mask = ((1UL << (8 << sizeLog2)) - 1) << (bit & 63);
        half = (half & ~mask) | ((value << (bit & 63)) & mask);
    }

    /// <summary>Byte <paramref name="index"/> (0..15).</summary>
    public readonly byte Byte(int index) => (byte)Get(index, 0);
}

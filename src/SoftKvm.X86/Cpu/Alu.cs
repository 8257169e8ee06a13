using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Integer arithmetic with the exact status flags of the SDM. Each function returns the result
/// and the six status flags (CF PF AF ZF SF OF) in <c>flags</c>; callers merge them into RFLAGS.
/// </summary>
internal static class Alu
{
    private const ulong CF = Rflags.CF, PF = Rflags.PF, AF = Rflags.AF, ZF = Rflags.ZF, SF = Rflags.SF, OF = Rflags.OF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Msb(ulong v, int size) => (v >> (size * 8 - 1)) & 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Parity(ulong r) => (BitOperations.PopCount(r & 0xFF) & 1) == 0 ? PF : 0;

    /// <summary>SF, ZF and PF of a result of <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Szp(ulong r, int size)
    {
        r &= Mask(size);
        return (r == 0 ? ZF : 0) | (Msb(r, size) != 0 ? SF : 0) | Parity(r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SignExtend(ulong v, int size) => size switch
    {
        1 => (ulong)(sbyte)v,
        2 => (ulong)(short)v,
        4 => (ulong)(int)v,
        _ => v,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong a, ulong b, ulong carry, int size, out ulong flags)
    {
        ulong m = Mask(size);
        a &= m;
        b &= m;
        ulong r = (a + b + carry) & m;
        ulong cout = Msb((a & b) | ((a | b) & ~r), size);
        ulong of = Msb((a ^ r) & (b ^ r), size);
        flags = (cout != 0 ? CF : 0) | (of != 0 ? OF : 0) | (((a ^ b ^ r) & 0x10) != 0 ? AF : 0) | Szp(r, size);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sub(ulong a, ulong b, ulong borrow, int size, out ulong flags)
    {
        ulong m = Mask(size);
        a &= m;
        b &= m;
        ulong r = (a - b - borrow) & m;
        ulong bout = Msb((~a & b) | ((~a | b) & r), size);
        ulong of = Msb((a ^ b) & (a ^ r), size);
        flags = (bout != 0 ? CF : 0) | (of != 0 ? OF : 0) | (((a ^ b ^ r) & 0x10) != 0 ? AF : 0) | Szp(r, size);
        return r;
    }

    /// <summary>AND/OR/XOR/TEST: CF=OF=0, AF cleared (undefined in the SDM; Intel and AMD hardware clear it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Logic(ulong r, int size, out ulong flags)
    {
        r &= Mask(size);
        flags = Szp(r, size);
        return r;
    }
}

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

    /// <summary>SF, ZF and PF of a result of <paramref name="size"/> bytes (those of them in <paramref name="need"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Szp(ulong r, int size, ulong need = Rflags.Status)
    {
        r &= Mask(size);
        return ((need & ZF) != 0 && r == 0 ? ZF : 0) | ((need & SF) != 0 && Msb(r, size) != 0 ? SF : 0) | ((need & PF) != 0 ? Parity(r) : 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SignExtend(ulong v, int size) => size switch
    {
        1 => (ulong)(sbyte)v,
        2 => (ulong)(short)v,
        4 => (ulong)(int)v,
        _ => v,
    };

    // The flag functions compute only the flags in need (a constant where they are inlined: a translated
    // block passes the flags a later instruction can see, the interpreter all of them); the others are 0.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong a, ulong b, ulong carry, int size, out ulong flags, ulong need = Rflags.Status)
    {
        ulong m = Mask(size);
        a &= m;
        b &= m;
        ulong r = (a + b + carry) & m;
        flags = ((need & CF) != 0 && Msb((a & b) | ((a | b) & ~r), size) != 0 ? CF : 0)
            | ((need & OF) != 0 && Msb((a ^ r) & (b ^ r), size) != 0 ? OF : 0)
            | ((need & AF) != 0 && ((a ^ b ^ r) & 0x10) != 0 ? AF : 0)
            | Szp(r, size, need);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Sub(ulong a, ulong b, ulong borrow, int size, out ulong flags, ulong need = Rflags.Status)
    {
        ulong m = Mask(size);
        a &= m;
        b &= m;
        ulong r = (a - b - borrow) & m;
        flags = ((need & CF) != 0 && Msb((~a & b) | ((~a | b) & r), size) != 0 ? CF : 0)
            | ((need & OF) != 0 && Msb((a ^ b) & (a ^ r), size) != 0 ? OF : 0)
            | ((need & AF) != 0 && ((a ^ b ^ r) & 0x10) != 0 ? AF : 0)
            | Szp(r, size, need);
        return r;
    }

    /// <summary>AND/OR/XOR/TEST: CF=OF=0, AF cleared (undefined in the SDM; Intel and AMD hardware clear it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Logic(ulong r, int size, out ulong flags, ulong need = Rflags.Status)
    {
        r &= Mask(size);
        flags = Szp(r, size, need);
        return r;
    }
}

using System.Runtime.CompilerServices;
using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// FEAT_LSE atomics (CAS, CASP, LD&lt;op&gt;/ST&lt;op&gt;, SWP, each with its acquire/release forms) and
/// the FEAT_LRCPC/LRCPC2 ordered loads and stores (LDAPR, LDAPUR, LDAPURS, STLUR). Every atomic is one
/// host atomic operation on the guest RAM it resolves to (a compare-and-swap loop where the host has no
/// direct instruction), so it is atomic against the atomics and plain stores of every other vCPU, the
/// VMM and devices, and against exclusives, whose store is itself a compare-and-swap
/// (<c>LoadStoreExclusive.cs</c>: an atomic that changes the value between LDXR and STXR makes the STXR
/// fail). The 128-bit CASP compares and writes under the VM-wide pair lock that 128-bit exclusives use:
/// atomic against them and other CASPs, not against plain stores (the host has no 16-byte CAS reachable
/// from .NET). Host atomics are full barriers, which covers every acquire/release form. Accesses must be
/// aligned to their size (no FEAT_LSE2) and must hit RAM: outside RAM they abort to the hypervisor with
/// ISV = 0, as KVM reports an atomic to MMIO. Each handler is UNDEFINED on a model without its feature.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    [A64Handler(A64Op.AtomicMemory)]
    private Flow AtomicMemory(uint insn)
    {
        int sizeLog2 = (int)(insn >> 30);
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31, rs = (int)(insn >> 16) & 31;
        uint opc = (insn >> 12) & 7;
        bool o3 = ((insn >> 15) & 1) != 0;
        bool acquire = ((insn >> 23) & 1) != 0;
        if (o3 && opc == 4)
        {
            // LDAPR{B,H}: A = 1, R = 0, Rs = 11111 (FEAT_LRCPC).
            return acquire && ((insn >> 22) & 1) == 0 && rs == 31 && Has(CpuFeatures.Lrcpc)
                ? LoadAcquire(rt, rn, sizeLog2, sizeLog2, false)
                : Undefined();
        }

        if ((o3 && opc != 0) || !Has(CpuFeatures.Lse))
        {
            return Undefined();
        }

        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        byte* host = ResolveForAtomic(address, 1 << sizeLog2, AccessKind.Write, 0);
        if (host == null)
        {
            return FaultFlow;
        }

        ulong operand = X(rs);
        ulong old = o3 ? Swap(host, sizeLog2, operand) : ReadModifyWrite(host, sizeLog2, opc, operand);
        SetReg(rt, old, sizeLog2 == 3);
        return Flow.Next;
    }

    [A64Handler(A64Op.Cas)]
    private Flow CompareAndSwap(uint insn)
    {
        if (!Has(CpuFeatures.Lse))
        {
            return Undefined();
        }

        int sizeLog2 = (int)(insn >> 30);
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31, rs = (int)(insn >> 16) & 31;
        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        byte* host = ResolveForAtomic(address, 1 << sizeLog2, AccessKind.Write, 0);
        if (host == null)
        {
            return FaultFlow;
        }

        ulong old = CompareExchange(host, sizeLog2, X(rs), X(rt));
        SetReg(rs, old, sizeLog2 == 3);
        return Flow.Next;
    }

    [A64Handler(A64Op.Casp)]
    private Flow CompareAndSwapPair(uint insn)
    {
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31, rs = (int)(insn >> 16) & 31;
        if (!Has(CpuFeatures.Lse) || (rs & 1) != 0 || (rt & 1) != 0)
        {
            // An odd Rs or Rt is UNDEFINED (Arm ARM C6.2 CASP).
            return Undefined();
        }

        bool doubleword = ((insn >> 30) & 1) != 0;
        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        byte* host = ResolveForAtomic(address, doubleword ? 16 : 8, AccessKind.Write, 0);
        if (host == null)
        {
            return FaultFlow;
        }

        if (!doubleword)
        {
            ulong expected = (uint)X(rs) | (X(rs + 1) << 32);
            ulong desired = (uint)X(rt) | (X(rt + 1) << 32);
            ulong old = Interlocked.CompareExchange(ref *(ulong*)host, desired, expected);
            SetW(rs, old);
            SetW(rs + 1, old >> 32);
            return Flow.Next;
        }

        ulong lo, hi;
        _shared.EnterPair();
        try
        {
            ulong* p = (ulong*)host;
            lo = p[0];
            hi = p[1];
            if (lo == X(rs) && hi == X(rs + 1))
            {
                p[0] = X(rt);
                p[1] = X(rt + 1);
            }
        }
        finally
        {
            _shared.ExitPair(); // a full barrier
        }

        SetX(rs, lo);
        SetX(rs + 1, hi);
        return Flow.Next;
    }

    /// <summary>LDAPUR, LDAPURS (to W or X) and STLUR: ordered accesses with a signed 9-bit unscaled offset (FEAT_LRCPC2).</summary>
    [A64Handler(A64Op.LdapurStlur)]
    private Flow LoadStoreRcpcUnscaled(uint insn)
    {
        int sizeLog2 = (int)(insn >> 30);
        uint opc = (insn >> 22) & 3;
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (!Has(CpuFeatures.Lrcpc2) || (sizeLog2 == 3 && opc >= 2) || (sizeLog2 == 2 && opc == 3))
        {
            return Undefined();
        }

        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        address += (ulong)(long)((int)(insn << 11) >> 23);
        if (opc == 0)
        {
            Interlocked.MemoryBarrier();
            if (!Write(address, 1 << sizeLog2, X(rt), 0, aligned: true))
            {
                return FaultFlow;
            }

            Interlocked.MemoryBarrier();
            return Flow.Next;
        }

        // opc 1: zero-extend; 2: sign-extend to 64 bits; 3: sign-extend to 32 bits.
        return LoadAcquireAt(address, rt, sizeLog2, opc == 1 ? (sizeLog2 == 3 ? 3 : 2) : opc == 2 ? 3 : 2, opc != 1);
    }

    /// <summary>A load-acquire of 2^<paramref name="sizeLog2"/> bytes at [Xn|SP] into Rt (a W register unless <paramref name="regLog2"/> is 3).</summary>
    private Flow LoadAcquire(int rt, int rn, int sizeLog2, int regLog2, bool signed)
    {
        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        return LoadAcquireAt(address, rt, sizeLog2, regLog2 == 3 ? 3 : 2, signed);
    }

    private Flow LoadAcquireAt(ulong address, int rt, int sizeLog2, int regLog2, bool signed)
    {
        // ISV = 0: LDAPR/LDAPUR are not among the instructions KVM decodes from the syndrome's SRT/SAS.
        if (!Read(address, 1 << sizeLog2, out ulong value, 0, aligned: true))
        {
            return FaultFlow;
        }

        Interlocked.MemoryBarrier();
        if (signed)
        {
            value = SignExtend(value, 8 << sizeLog2);
        }

        SetReg(rt, value, regLog2 == 3);
        return Flow.Next;
    }

    private static ulong Swap(byte* p, int sizeLog2, ulong value) => sizeLog2 switch
    {
        0 => Interlocked.Exchange(ref *p, (byte)value),
        1 => Interlocked.Exchange(ref *(ushort*)p, (ushort)value),
        2 => Interlocked.Exchange(ref *(uint*)p, (uint)value),
        _ => Interlocked.Exchange(ref *(ulong*)p, value),
    };

    private static ulong CompareExchange(byte* p, int sizeLog2, ulong expected, ulong value) => sizeLog2 switch
    {
        0 => Interlocked.CompareExchange(ref *p, (byte)value, (byte)expected),
        1 => Interlocked.CompareExchange(ref *(ushort*)p, (ushort)value, (ushort)expected),
        2 => Interlocked.CompareExchange(ref *(uint*)p, (uint)value, (uint)expected),
        _ => Interlocked.CompareExchange(ref *(ulong*)p, value, expected),
    };

    /// <summary>LDADD, LDCLR, LDEOR, LDSET, LDSMAX, LDSMIN, LDUMAX, LDUMIN (opc 0..7): the old value, the new one stored atomically.</summary>
    private static ulong ReadModifyWrite(byte* p, int sizeLog2, uint opc, ulong operand)
    {
        ulong mask = sizeLog2 == 3 ? ulong.MaxValue : (1UL << (8 << sizeLog2)) - 1;
        ulong old = ReadHost(p, sizeLog2);
        while (true)
        {
            ulong value = Combine(opc, old, operand & mask, 8 << sizeLog2) & mask;
            ulong seen = CompareExchange(p, sizeLog2, old, value);
            if (seen == old)
            {
                return old;
            }

            old = seen;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Combine(uint opc, ulong old, ulong operand, int bits) => opc switch
    {
        0 => old + operand,
        1 => old & ~operand,
        2 => old ^ operand,
        3 => old | operand,
        4 => (long)SignExtend(old, bits) >= (long)SignExtend(operand, bits) ? old : operand,
        5 => (long)SignExtend(old, bits) <= (long)SignExtend(operand, bits) ? old : operand,
        6 => old >= operand ? old : operand,
        _ => old <= operand ? old : operand,
    };
}

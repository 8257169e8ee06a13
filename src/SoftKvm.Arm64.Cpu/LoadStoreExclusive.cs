using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// Load/store exclusive and load-acquire/store-release. The global exclusive monitor is emulated by
/// compare-and-swap on host memory: LDXR records the host address and the value it loaded; STXR
/// succeeds only if it can atomically swap that value for the new one. Any store by another vCPU, the
/// VMM or a device that changed the value makes the STXR fail, as a real global monitor would.
/// Known limit (ABA): a store that writes back the same value, or changes it and then restores it,
/// between LDXR and STXR does not make the STXR fail. Every lock-free algorithm built on LL/SC that
/// Linux uses (spinlocks, atomics, cmpxchg loops) is correct under this, because they only need the
/// value to be unchanged. A 128-bit STXP has no host compare-and-swap: it compares and writes under a
/// VM-wide lock, atomic against other exclusives but not against plain stores of other PEs.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    // The monitor lives in the native context (NativeContext.ExclusiveHost and on), which native code
    // reads and writes too (X64Lowering.Exclusives.cs): one monitor whichever engine runs the instruction.
    private ref byte* MonitorHost => ref *(byte**)&_context->ExclusiveHost;

    private ref int MonitorSize => ref _context->ExclusiveSize;

    private ref ulong MonitorValue => ref _context->ExclusiveValue;

    private ref ulong MonitorValue2 => ref _context->ExclusiveValue2;

    /// <summary>Clears the local monitor (CLREX, exception entry and return).</summary>
    public void ClearExclusive() => MonitorHost = null;

    [A64Handler(A64Op.Clrex)]
    private Flow Clrex()
    {
        ClearExclusive();
        return Flow.Next;
    }

    [A64Handler(A64Op.Stxr, A64Op.Stlxr, A64Op.Ldxr, A64Op.Ldaxr)]
    private Flow LoadStoreExclusive(uint insn, A64Op op)
    {
        int sizeLog2 = (int)(insn >> 30);
        int bytes = 1 << sizeLog2;
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31, rs = (int)(insn >> 16) & 31;
        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        if (op is A64Op.Ldxr or A64Op.Ldaxr)
        {
            byte* host = ResolveForAtomic(address, bytes, AccessKind.Read, 0);
            if (host == null)
            {
                return FaultFlow;
            }

            ulong value = ReadHost(host, sizeLog2);
            if (op == A64Op.Ldaxr)
            {
                Interlocked.MemoryBarrier();
            }

            HookAccess(AccessKind.Read, address, bytes, value);

            MonitorHost = host;
            MonitorSize = bytes;
            MonitorValue = value;
            _lastWasLoadExclusive = true;
            SetReg(rt, value, sizeLog2 == 3);
            return Flow.Next;
        }

        ulong newValue = X(rt);
        byte* target = ResolveForAtomic(address, bytes, AccessKind.Write, 0);
        if (target == null)
        {
            return FaultFlow;
        }

        if (op == A64Op.Stlxr)
        {
            Interlocked.MemoryBarrier();
        }

        HookAccess(AccessKind.Write, address, bytes, newValue);

        bool ok = MonitorHost == target && MonitorSize == bytes && CompareAndSwap(target, sizeLog2, MonitorValue, newValue);
        ClearExclusive();
        SetW(rs, ok ? 0UL : 1UL);
        return Flow.Next;
    }

    [A64Handler(A64Op.Stxp, A64Op.Stlxp, A64Op.Ldxp, A64Op.Ldaxp)]
    private Flow LoadStoreExclusivePair(uint insn, A64Op op)
    {
        bool doubleword = ((insn >> 30) & 1) != 0;
        int bytes = doubleword ? 16 : 8;
        int rt = (int)insn & 31, rt2 = (int)(insn >> 10) & 31, rn = (int)(insn >> 5) & 31, rs = (int)(insn >> 16) & 31;
        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        if ((address & (ulong)(bytes - 1)) != 0)
        {
            DataAbortToGuest(address, Esr.FscAlignment, op is A64Op.Stxp or A64Op.Stlxp);
            return Flow.Exception;
        }

        bool load = op is A64Op.Ldxp or A64Op.Ldaxp;
        byte* host = ResolveForAtomic(address, 8, load ? AccessKind.Read : AccessKind.Write, 0);
        if (host == null)
        {
            return FaultFlow;
        }

        if (load)
        {
            ulong v1, v2;
            if (doubleword)
            {
                _shared.EnterPair();
                try
                {
                    v1 = *(ulong*)host;
                    v2 = *(ulong*)(host + 8);
                }
                finally
                {
                    _shared.ExitPair();
                }

                SetX(rt, v1);
                SetX(rt2, v2);
            }
            else
            {
                ulong both = Volatile.Read(ref *(ulong*)host);
                v1 = both;
                v2 = 0;
                SetW(rt, both);
                SetW(rt2, both >> 32);
            }

            if (op == A64Op.Ldaxp)
            {
                Interlocked.MemoryBarrier();
            }

            HookAccess(AccessKind.Read, address, 8, v1);
            if (doubleword)
            {
                HookAccess(AccessKind.Read, address + 8, 8, v2);
            }

            MonitorHost = host;
            MonitorSize = bytes;
            MonitorValue = v1;
            MonitorValue2 = v2;
            _lastWasLoadExclusive = true;
            return Flow.Next;
        }

        if (op == A64Op.Stlxp)
        {
            Interlocked.MemoryBarrier();
        }

        if (doubleword)
        {
            HookAccess(AccessKind.Write, address, 8, X(rt));
            HookAccess(AccessKind.Write, address + 8, 8, X(rt2));
        }
        else
        {
            HookAccess(AccessKind.Write, address, 8, (uint)X(rt) | (X(rt2) << 32));
        }

        bool ok = false;
        if (MonitorHost == host && MonitorSize == bytes)
        {
            if (doubleword)
            {
                _shared.EnterPair();
                try
                {
                    ulong* p = (ulong*)host;
                    if (p[0] == MonitorValue && p[1] == MonitorValue2)
                    {
                        p[0] = X(rt);
                        p[1] = X(rt2);
                        ok = true;
                    }
                }
                finally
                {
                    _shared.ExitPair();
                }
            }
            else
            {
                ulong combined = (uint)X(rt) | (X(rt2) << 32);
                ok = Interlocked.CompareExchange(ref *(ulong*)host, combined, MonitorValue) == MonitorValue;
            }
        }

        ClearExclusive();
        SetW(rs, ok ? 0UL : 1UL);
        return Flow.Next;
    }

    [A64Handler(A64Op.Stlr, A64Op.Ldar)]
    private Flow LoadStoreOrdered(uint insn, A64Op op)
    {
        int sizeLog2 = (int)(insn >> 30);
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        if (!BaseAddress(rn, out ulong address))
        {
            return Flow.Exception;
        }

        uint iss = Syndrome(sizeLog2, false, rt, sizeLog2 == 3, acquireRelease: true);
        if (op == A64Op.Ldar)
        {
            if (!Read(address, 1 << sizeLog2, out ulong value, iss, aligned: true))
            {
                return FaultFlow;
            }

            Interlocked.MemoryBarrier();
            SetReg(rt, value, sizeLog2 == 3);
            return Flow.Next;
        }

        Interlocked.MemoryBarrier();
        if (!Write(address, 1 << sizeLog2, X(rt), iss, aligned: true))
        {
            return FaultFlow;
        }

        Interlocked.MemoryBarrier();
        return Flow.Next;
    }

    private static ulong ReadHost(byte* p, int sizeLog2) => sizeLog2 switch
    {
        0 => Volatile.Read(ref *p),
        1 => Volatile.Read(ref *(ushort*)p),
        2 => Volatile.Read(ref *(uint*)p),
        _ => Volatile.Read(ref *(ulong*)p),
    };

    private static bool CompareAndSwap(byte* p, int sizeLog2, ulong expected, ulong value) => sizeLog2 switch
    {
        0 => Interlocked.CompareExchange(ref *p, (byte)value, (byte)expected) == (byte)expected,
        1 => Interlocked.CompareExchange(ref *(ushort*)p, (ushort)value, (ushort)expected) == (ushort)expected,
        2 => Interlocked.CompareExchange(ref *(uint*)p, (uint)value, (uint)expected) == (uint)expected,
        _ => Interlocked.CompareExchange(ref *(ulong*)p, value, expected) == expected,
    };
}

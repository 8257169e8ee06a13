using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Debug-register breakpoints (SDM Vol. 3 17.2): instruction breakpoints are faults checked before
/// an instruction (suppressed by RF); data breakpoints (RW=01 write, RW=11 read/write) and I/O
/// breakpoints (RW=10, with CR4.DE) are traps reported after the instruction retires.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    private ulong _pendingBreakpointHits;

    /// <summary>After <see cref="EmulateOne"/> retired an instruction: the DR6 B0-B3 bits of data or I/O
    /// breakpoints it hit (0 = none). The caller owes a #DB trap with these bits.</summary>
    public ulong LastBreakpointHits { get; private set; }

    private static ulong BreakpointLength(ulong dr7, int n) => ((dr7 >> (18 + 4 * n)) & 3) switch
    {
        0 => 1,
        1 => 2,
        2 => 8,
        _ => 4,
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CheckDataBreakpoints(ulong linear, int size, AccessKind kind)
    {
        ulong dr7 = _regs.Dr7;
        for (int n = 0; n < 4; n++)
        {
            ulong rw = (dr7 >> (16 + 4 * n)) & 3;
            if (((dr7 >> (2 * n)) & 3) == 0 || !(rw == 3 || (rw == 1 && kind == AccessKind.Write)))
            {
                continue;
            }

            ulong len = BreakpointLength(dr7, n);
            ulong start = _regs.Dr[n] & ~(len - 1);
            if (linear < start + len && start < linear + (ulong)size)
            {
                _pendingBreakpointHits |= 1UL << n;
            }
        }
    }

    /// <summary>The DR6 B0-B3 bits of I/O breakpoints (CR4.DE, RW=10) matching an access to
    /// <paramref name="port"/>; the hypervisor calls it after completing an IO exit and injects a #DB trap when non-zero.</summary>
    public ulong IoBreakpointHits(ushort port, int size)
    {
        if ((_regs.Cr4 & 8) == 0)
        {
            return 0;
        }

        ulong dr7 = _regs.Dr7;
        ulong hits = 0;
        for (int n = 0; n < 4; n++)
        {
            ulong rw = (dr7 >> (16 + 4 * n)) & 3;
            if (((dr7 >> (2 * n)) & 3) == 0 || rw != 2)
            {
                continue;
            }

            ulong len = BreakpointLength(dr7, n);
            ulong start = (_regs.Dr[n] & 0xFFFF) & ~(len - 1);
            if (port < start + len && start < (ulong)port + (ulong)size)
            {
                hits |= 1UL << n;
            }
        }

        return hits;
    }
}

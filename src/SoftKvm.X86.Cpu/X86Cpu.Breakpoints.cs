using System.Runtime.CompilerServices;

namespace SoftKvm.X86.Cpu;

/// <summary>
/// Debug exceptions (SDM Vol. 3 6.8.3, 17.2, 17.3; docs/kvm-semantics.md#x86-debug-exceptions): instruction
/// breakpoints and general detect (DR7.GD) are faults checked before an instruction (code breakpoints are
/// suppressed by RF and inside a MOV SS / POP SS shadow); data breakpoints (RW=01 write, RW=11 read/write),
/// I/O breakpoints (RW=10, with CR4.DE) and single-step are traps reported together, as one #DB, after the
/// instruction retires, with the code breakpoints that match the next instruction. A #DB rewrites DR6.B0-B3
/// and sets BD/BS, which software alone clears. The traps of a MOV SS or POP SS are held to the boundary
/// after the next instruction: a fault there drops them, INT n / INT3 / INTO deliver them after entering
/// their handler, ICEBP's own #DB replaces them, any other instruction reports them with its own.
/// </summary>
public sealed unsafe partial class X86Cpu
{
    /// <summary>DR6.BD: the #DB is a general-detect fault.</summary>
    internal const ulong Dr6GeneralDetect = 1UL << 13;

    /// <summary>DR6.BS: the #DB reports a single-step trap.</summary>
    internal const ulong Dr6SingleStep = 1UL << 14;

    /// <summary>DR6 bits that read as one (bits 4-11, 16 (RTM, active low) and 63:17).</summary>
    internal const ulong Dr6Fixed = 0xFFFF0FF0;

    /// <summary>DR7.GD: general detect, a #DB before any MOV to or from a debug register.</summary>
    internal const ulong Dr7GeneralDetect = 1UL << 13;

    private ulong _pendingBreakpointHits;

    /// <summary>
    /// The debug traps (DR6 B0-B3, BS) that a MOV SS or POP SS raised and its interrupt shadow holds until
    /// the boundary after the next instruction: VMX's pending-debug-exceptions field.
    /// </summary>
    private ulong _heldDebugTraps;

    /// <summary>The debug traps a MOV SS or POP SS holds for the boundary after the next instruction (VMX's
    /// pending-debug-exceptions field, DR6 format: B0-B3, BS); 0 = none.</summary>
    public ulong PendingDebugExceptions => _heldDebugTraps;

    /// <summary>Writes DR6 as a #DB does: B0-B3 replaced by <paramref name="conditions"/>'s, BD and BS set when given, never cleared.</summary>
    private void SetDr6(ulong conditions) => _regs.Dr6 = (_regs.Dr6 & ~0xFUL) | conditions | Dr6Fixed;

    private ulong TakeHeldDebugTraps()
    {
        ulong held = _heldDebugTraps;
        _heldDebugTraps = 0;
        return held;
    }

    /// <summary>
    /// Delivers one trap-class #DB at this boundary for <paramref name="dr6"/>'s conditions, reporting too the
    /// code breakpoints that match the instruction at RIP ("the debug exception may report one or both",
    /// SDM Vol. 3 17.3.1); those still fault when that instruction starts, unless RF is set. False = exit.
    /// </summary>
    private bool DeliverDebugTrap(ulong dr6)
    {
        if ((_regs.Dr7 & 0xFF) != 0 && (_regs.Rflags & Rflags.RF) == 0)
        {
            dr6 |= CodeBreakpointHits();
        }

        return RaiseException(ExceptionVector.DB, 0, false, _regs.Rip, true, dr6);
    }

    /// <summary>
    /// INT n, INT3, INTO or ICEBP retired (RIP is past it): delivers its event, and what the debug traps
    /// <paramref name="held"/> by a MOV SS before it become. False = exit.
    /// </summary>
    private bool DeliverSoftwareInterrupt(ulong startRip, ulong held)
    {
        int v = _softwareInterrupt;
        _softwareInterrupt = -1;
        bool icebp = _softwareIsIcebp;
        if ((v == ExceptionVector.BP || v == ExceptionVector.OF || icebp) && (Controls.ExceptionBitmap & (1u << v)) != 0)
        {
            // The hypervisor takes it (and re-injects it, or not); the held traps stay pending for that.
            _heldDebugTraps = held;
            return RaiseException(v, 0, false, _regs.Rip, true);
        }

        if (icebp)
        {
            // ICEBP's #DB reports no condition (B0-B3 cleared, no BS even under TF) and is the only #DB:
            // the traps a MOV SS held are lost (one #DB handler entry on hardware, kvm-unit-tests
            // x86/debug.c "MOV SS + watchpoint + ICEBP"). It is not a software interrupt: no DPL check.
            SetDr6(0);
            return DeliverEvent(ExceptionVector.DB, 0, false, _regs.Rip, false, false, startRip);
        }

        // INT n / INT3 / INTO check the gate DPL; a fault while delivering them is reported at the
        // instruction, not after it, and drops the held traps.
        long delivered = EventsDelivered;
        if (!DeliverEvent(v, 0, false, _regs.Rip, false, true, startRip))
        {
            return false;
        }

        if (held == 0 || _lastDeliveredVector != v || EventsDelivered == delivered)
        {
            return true;
        }

        // The held traps are delivered after the transfer, before the handler's first instruction
        // (SDM Vol. 3 6.8.3; the "MOV SS; INT n" cases of CVE-2018-8897).
        return DeliverDebugTrap(held);
    }

    /// <summary>The DR6 B0-B3 bits of the enabled instruction breakpoints (RW=00) at the linear address of RIP.</summary>
    private ulong CodeBreakpointHits()
    {
        ulong linear = _bitness == 64 ? _regs.Rip : (_regs.Seg[SegmentIndex.Cs].Base + _regs.Rip) & 0xFFFFFFFF;
        ulong dr7 = _regs.Dr7;
        ulong hits = 0;
        for (int i = 0; i < 4; i++)
        {
            if (((dr7 >> (i * 2)) & 3) != 0 && ((dr7 >> (16 + i * 4)) & 3) == 0 && _regs.Dr[i] == linear)
            {
                hits |= 1UL << i;
            }
        }

        return hits;
    }

    /// <summary>
    /// Before an instruction: its enabled code breakpoints fault (#DB, RIP at the instruction), unless RF is
    /// set or a MOV SS / POP SS shadow inhibits them (Intel; KVM's kvm_is_code_breakpoint_inhibited).
    /// </summary>
    private bool CheckInstructionBreakpoints()
    {
        if (_shadow == InterruptShadow.MovSs)
        {
            return false;
        }

        ulong hits = CodeBreakpointHits();
        if (hits == 0)
        {
            return false;
        }

        _faultDr6 = hits;
        return Fault(ExceptionVector.DB);
    }

    /// <summary>
    /// MOV to or from DR0-DR7 with DR7.GD set: a general-detect #DB fault with DR6.BD, also inside a MOV SS
    /// shadow (SDM Vol. 3 17.2.4, 6.8.3). False with the fault recorded; true when the access may go on.
    /// </summary>
    internal bool CheckGeneralDetect()
    {
        if ((_regs.Dr7 & Dr7GeneralDetect) == 0)
        {
            return true;
        }

        _faultDr6 = Dr6GeneralDetect;
        return Fault(ExceptionVector.DB);
    }

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

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The stage-1 MMU of EL1&amp;0 (VMSAv8-64, Arm ARM D8): TTBR0/TTBR1 selected by VA[55], 4K/16K/64K
/// granules, 16..39-bit T0SZ/T1SZ, table and block/page descriptors, hierarchical APTable/XNTable,
/// AP/UXN/PXN/AF/WXN checks, top-byte-ignore. A successful walk also reports whether the leaf is global
/// (nG = 0) and the size of the block or page it came from, for the ASID-tagged software TLB
/// (Arm64Cpu.Tlb.cs).
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private const ulong SctlrM = 1UL << 0;
    private const ulong SctlrA = 1UL << 1;
    private const ulong SctlrSa = 1UL << 3;
    private const ulong SctlrSa0 = 1UL << 4;
    private const ulong SctlrUma = 1UL << 9;
    private const ulong SctlrDze = 1UL << 14;
    private const ulong SctlrUct = 1UL << 15;
    private const ulong SctlrNTwi = 1UL << 16;
    private const ulong SctlrNTwe = 1UL << 18;
    private const ulong SctlrWxn = 1UL << 19;
    private const ulong SctlrUci = 1UL << 26;

    /// <summary>SCTLR_EL1 RES1 bits and KVM's reset value (0x00C50078).</summary>
    private const ulong SctlrReset = 0x00C5_0078;

    /// <summary>The SCTLR_EL1 bits the guest may change (no big-endian, no AArch32 controls).</summary>
    private const ulong SctlrWritable = SctlrM | SctlrA | (1UL << 2) | SctlrSa | SctlrSa0 | SctlrUma | (1UL << 12)
        | SctlrDze | SctlrUct | SctlrNTwi | SctlrNTwe | SctlrWxn | SctlrUci;

    /// <summary>
    /// The SCTLR_EL1 bits the TLB entries depend on, whose change flushes the TLB: M (translation), WXN (execute
    /// permission), EE and E0E (endianness; not writable), and the MTE controls (Tagged pages stay out of the data
    /// TLBs while tag checks are configured). The others are looked at when an instruction runs (alignment,
    /// traps of EL0's cache and WFx instructions, BT0/BT1) or are in the native block mode (alignment); the
    /// PAuth enables are read by the code that signs and authenticates (Linux flips EnIB/EnDA/EnDB at context
    /// switches between tasks: no flush for those).
    /// </summary>
    private const ulong SctlrTlbBits = SctlrM | SctlrWxn | (1UL << 25) | (1UL << 24) | SctlrMteBits;

    /// <summary>The physical address size advertised in ID_AA64MMFR0_EL1.PARange (40 bits).</summary>
    private const int PaBits = 40;

    /// <summary>Whether the leaf of the last successful <see cref="Translate"/> was global (nG = 0).</summary>
    private bool _walkGlobal;

    /// <summary>Whether the leaf of the last successful <see cref="Translate"/> had GP = 1 (a guarded page, FEAT_BTI).</summary>
    private bool _walkGuarded;

    /// <summary>log2 of the block or page size of the last successful <see cref="Translate"/>.</summary>
    private int _walkShift;

    /// <summary>
    /// Translates <paramref name="va"/> for an access of <paramref name="kind"/> at <paramref name="el"/>.
    /// On failure <paramref name="fsc"/> is the fault status code (type | level). <paramref name="pan"/>: a
    /// privileged data access under PSTATE.PAN, for which a page EL0 may access faults (FEAT_PAN);
    /// <paramref name="pa"/> is the physical address.
    /// </summary>
    private bool Translate(ulong va, AccessKind kind, int el, out ulong pa, out uint fsc, bool pan = false)
    {
        pa = 0;
        _walkTagged = false;
        if ((State.SctlrEl1 & SctlrM) == 0)
        {
            if ((va >> PaBits) != 0)
            {
                fsc = Esr.FscAddressSize;
                return false;
            }

            pa = va;
            fsc = 0;
            _walkGlobal = true;
            _walkGuarded = false;
            _walkShift = 12;
            return true;
        }

        ulong tcr = State.TcrEl1;
        bool upper = ((va >> 55) & 1) != 0;
        int tsz = (int)(upper ? (tcr >> 16) & 0x3F : tcr & 0x3F);
        tsz = Math.Clamp(tsz, 16, 39);
        bool tbi = ((tcr >> (upper ? 38 : 37)) & 1) != 0
            && !(kind == AccessKind.Execute && Has(CpuFeatures.Pauth) && ((tcr >> (upper ? 52 : 51)) & 1) != 0); // TBIDn (FEAT_PAuth)
        int inputBits = 64 - tsz;
        ulong topMask = (tbi ? (1UL << 56) - 1 : ulong.MaxValue) & ~((1UL << inputBits) - 1);
        ulong expected = upper ? topMask : 0;
        if ((va & topMask) != expected || ((tcr >> (upper ? 23 : 7)) & 1) != 0
            || (el == 0 && Has(CpuFeatures.E0pd) && ((tcr >> (upper ? 56 : 55)) & 1) != 0))
        {
            // A translation fault at level 0, also for EL0 under TCR_EL1.E0PDn (FEAT_E0PD).
            fsc = Esr.FscTranslation;
            return false;
        }

        int granule = upper
            ? ((tcr >> 30) & 3) switch { 1 => 14, 3 => 16, _ => 12 }
            : ((tcr >> 14) & 3) switch { 1 => 16, 2 => 14, _ => 12 };
        int stride = granule - 3;
        int levels = (inputBits - granule + stride - 1) / stride;
        int level = 4 - levels;
        ulong table = (upper ? State.Ttbr1El1 : State.Ttbr0El1) & 0x0000_FFFF_FFFF_FFFEUL;
        bool apTableNoEl0 = false, apTableReadOnly = false, xnTable = false, pxnTable = false;
        ulong outMask = 0x0000_FFFF_FFFF_F000UL & ~((1UL << granule) - 1);
        while (true)
        {
            int shift = granule + stride * (3 - level);
            int indexBits = Math.Min(stride, inputBits - shift);
            ulong index = (va >> shift) & ((1UL << indexBits) - 1);
            ulong* entry = (ulong*)_memory.TryGetHostPointer(table + index * 8, false, out ulong available);
            if (entry == null || available < 8)
            {
                fsc = Esr.FscExternalWalk | (uint)Math.Max(level, 0);
                return false;
            }

            ulong desc = *entry;
            if ((desc & 1) == 0)
            {
                fsc = Esr.FscTranslation | (uint)level;
                return false;
            }

            if (level < 3 && (desc & 2) != 0)
            {
                pxnTable |= ((desc >> 59) & 1) != 0;
                xnTable |= ((desc >> 60) & 1) != 0;
                apTableNoEl0 |= ((desc >> 61) & 1) != 0;
                apTableReadOnly |= ((desc >> 62) & 1) != 0;
                table = desc & outMask;
                level++;
                continue;
            }

            bool blockAllowed = level == 3 || level == 2 || (level == 1 && granule == 12);
            if ((level == 3 && (desc & 2) == 0) || !blockAllowed)
            {
                fsc = Esr.FscTranslation | (uint)level;
                return false;
            }

            ulong offsetMask = (1UL << shift) - 1;
            pa = (desc & 0x0000_FFFF_FFFF_F000UL & ~offsetMask) | (va & offsetMask);
            if ((desc & (1UL << 10)) == 0)
            {
                fsc = Esr.FscAccessFlag | (uint)level;
                return false;
            }

            uint ap = (uint)(desc >> 6) & 3;
            bool el0Access = (ap & 1) != 0 && !apTableNoEl0;
            bool writable = (ap & 2) == 0 && !apTableReadOnly;
            bool uxn = ((desc >> 54) & 1) != 0 || xnTable;
            bool pxn = ((desc >> 53) & 1) != 0 || pxnTable;
            bool wxn = (State.SctlrEl1 & SctlrWxn) != 0 && writable;
            bool allowed = kind switch
            {
                AccessKind.Read => el != 0 ? !(pan && el0Access) : el0Access,
                AccessKind.Write => writable && (el != 0 ? !(pan && el0Access) : el0Access),
                _ => el == 0 ? !uxn && !wxn : !pxn && !wxn && !(el0Access && writable),
            };
            if (!allowed)
            {
                fsc = Esr.FscPermission | (uint)level;
                return false;
            }

            fsc = 0;
            _walkGlobal = ((desc >> 11) & 1) == 0;
            _walkGuarded = ((desc >> 50) & 1) != 0 && Has(CpuFeatures.Bti);
            _walkShift = shift;
            _walkTagged = IsTaggedAttribute(desc);
            return true;
        }
    }

    /// <summary>AT S1E1R/S1E1W/S1E0R/S1E0W: translate and report in PAR_EL1.</summary>
    private void AddressTranslate(ulong va, AccessKind kind, int el)
    {
        if (Translate(va, kind, el, out ulong pa, out uint fsc))
        {
            State.ParEl1 = pa & 0x0000_FFFF_FFFF_F000UL;
        }
        else
        {
            State.ParEl1 = 1UL | ((ulong)fsc << 1);
        }
    }

    /// <summary>
    /// Translates <paramref name="va"/> through the guest's stage 1 at the current EL, as a read would (for
    /// debuggers: KVM_TRANSLATE); no fault is taken and no TLB entry is filled. False when unmapped.
    /// </summary>
    public bool TryTranslate(ulong va, out ulong pa) => Translate(va, AccessKind.Read, State.El, out pa, out _);

    // ---- hardware breakpoints and watchpoints (2 of each, unlinked address match) ----

    private const int BreakpointCount = 2;
    private const int WatchpointCount = 2;
    private bool _hwBreakpointsArmed;
    private bool _hwWatchpointsArmed;

    /// <summary>A host breakpoint matched at fetch: <c>FetchHost</c> returned null and the run loop reports <see cref="CpuExit.Debug"/>.</summary>
    private bool _hostDebugPending;

    /// <summary>
    /// Arms breakpoint and watchpoint checks from the active register set: the host's while it installed
    /// its own (<see cref="SetHostDebug"/>), else the guest's with MDSCR_EL1.MDE; and <see cref="DebugInterpretOnly"/>.
    /// </summary>
    private void RecomputeDebugArming()
    {
        bool enabled = _hostHardware || (State.MdscrEl1 & MdscrMde) != 0;
        ref DebugRegisterFile bcr = ref _hostHardware ? ref _hostBcr : ref State.Dbgbcr;
        ref DebugRegisterFile wcr = ref _hostHardware ? ref _hostWcr : ref State.Dbgwcr;
        bool bp = false, wp = false;
        for (int i = 0; i < BreakpointCount; i++)
        {
            bp |= enabled && (bcr[i] & 1) != 0;
        }

        for (int i = 0; i < WatchpointCount; i++)
        {
            wp |= enabled && (wcr[i] & 1) != 0;
        }

        _hwBreakpointsArmed = bp;
        if (wp != _hwWatchpointsArmed)
        {
            FlushTlb();
        }

        _hwWatchpointsArmed = wp;
        DebugInterpretOnly = bp || _hostSingleStep;
    }

    private static bool PrivilegeMatches(ulong control, int el)
    {
        uint pmc = (uint)(control >> 1) & 3;
        return el == 0 ? (pmc & 2) != 0 : (pmc & 1) != 0;
    }

    private bool CheckBreakpoint(ulong pc)
    {
        // Host debug exceptions target EL2: always enabled at EL0 and EL1.
        if (!_hostHardware && !DebugExceptionsEnabled())
        {
            return false;
        }

        ref DebugRegisterFile bcr = ref _hostHardware ? ref _hostBcr : ref State.Dbgbcr;
        ref DebugRegisterFile bvr = ref _hostHardware ? ref _hostBvr : ref State.Dbgbvr;
        for (int i = 0; i < BreakpointCount; i++)
        {
            ulong control = bcr[i];
            if ((control & 1) != 0 && ((control >> 20) & 0xF) == 0 && PrivilegeMatches(control, State.El)
                && (bvr[i] & ~3UL) == pc)
            {
                if (_hostHardware)
                {
                    HostDebugTrap(Esr.EcBreakpointLow, Esr.FscDebug);
                    _hostDebugPending = true;
                    return true;
                }

                uint ec = State.El == 0 ? Esr.EcBreakpointLow : Esr.EcBreakpointCur;
                TakeSyncException(Esr.Make(ec, Esr.FscDebug), 0, false);
                return true;
            }
        }

        return false;
    }

    private bool CheckWatchpoint(ulong va, int size, bool write)
    {
        if (!_hostHardware && !DebugExceptionsEnabled())
        {
            return false;
        }

        ref DebugRegisterFile wcr = ref _hostHardware ? ref _hostWcr : ref State.Dbgwcr;
        ref DebugRegisterFile wvr = ref _hostHardware ? ref _hostWvr : ref State.Dbgwvr;
        for (int i = 0; i < WatchpointCount; i++)
        {
            ulong control = wcr[i];
            uint lsc = (uint)(control >> 3) & 3;
            if ((control & 1) == 0 || !PrivilegeMatches(control, State.El) || (lsc & (write ? 2u : 1u)) == 0)
            {
                continue;
            }

            ulong wbase = wvr[i] & ~7UL;
            uint bas = (uint)(control >> 5) & 0xFF;
            for (int b = 0; b < 8; b++)
            {
                ulong a = wbase + (ulong)b;
                if ((bas & (1u << b)) != 0 && a >= va && a < va + (ulong)size)
                {
                    if (_hostHardware)
                    {
                        // A trap to the hypervisor: nothing is committed, PC stays at the access.
                        HostDebugTrap(Esr.EcWatchpointLow, Esr.FscDebug | (write ? Esr.IssWnR : 0), va);
                        _faultIsTrap = true;
                        return true;
                    }

                    uint ec = State.El == 0 ? Esr.EcWatchpointLow : Esr.EcWatchpointCur;
                    TakeSyncException(Esr.Make(ec, Esr.FscDebug | (write ? Esr.IssWnR : 0)), va, true);
                    _faultIsTrap = false;
                    return true;
                }
            }
        }

        return false;
    }
}

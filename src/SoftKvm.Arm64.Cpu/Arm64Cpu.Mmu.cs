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

    /// <summary>The physical address size advertised in ID_AA64MMFR0_EL1.PARange (40 bits).</summary>
    private const int PaBits = 40;

    /// <summary>Whether the leaf of the last successful <see cref="Translate"/> was global (nG = 0).</summary>
    private bool _walkGlobal;

    /// <summary>log2 of the block or page size of the last successful <see cref="Translate"/>.</summary>
    private int _walkShift;

    /// <summary>
    /// Translates <paramref name="va"/> for an access of <paramref name="kind"/> at <paramref name="el"/>.
    /// On failure <paramref name="fsc"/> is the fault status code (type | level).
    /// </summary>
    private bool Translate(ulong va, AccessKind kind, int el, out ulong pa, out uint fsc)
    {
        pa = 0;
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
            _walkShift = 12;
            return true;
        }

        ulong tcr = State.TcrEl1;
        bool upper = ((va >> 55) & 1) != 0;
        int tsz = (int)(upper ? (tcr >> 16) & 0x3F : tcr & 0x3F);
        tsz = Math.Clamp(tsz, 16, 39);
        bool tbi = ((tcr >> (upper ? 38 : 37)) & 1) != 0;
        int inputBits = 64 - tsz;
        ulong topMask = (tbi ? (1UL << 56) - 1 : ulong.MaxValue) & ~((1UL << inputBits) - 1);
        ulong expected = upper ? topMask : 0;
        if ((va & topMask) != expected || ((tcr >> (upper ? 23 : 7)) & 1) != 0)
        {
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
                AccessKind.Read => el != 0 || el0Access,
                AccessKind.Write => writable && (el != 0 || el0Access),
                _ => el == 0 ? !uxn && !wxn : !pxn && !wxn && !(el0Access && writable),
            };
            if (!allowed)
            {
                fsc = Esr.FscPermission | (uint)level;
                return false;
            }

            fsc = 0;
            _walkGlobal = ((desc >> 11) & 1) == 0;
            _walkShift = shift;
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

    // ---- hardware breakpoints and watchpoints (2 of each, unlinked address match) ----

    private const int BreakpointCount = 2;
    private const int WatchpointCount = 2;
    private bool _hwBreakpointsArmed;
    private bool _hwWatchpointsArmed;

    private void RecomputeDebugArming()
    {
        bool mde = (State.MdscrEl1 & MdscrMde) != 0;
        bool bp = false, wp = false;
        for (int i = 0; i < BreakpointCount; i++)
        {
            bp |= mde && (State.Dbgbcr[i] & 1) != 0;
        }

        for (int i = 0; i < WatchpointCount; i++)
        {
            wp |= mde && (State.Dbgwcr[i] & 1) != 0;
        }

        _hwBreakpointsArmed = bp;
        if (wp != _hwWatchpointsArmed)
        {
            FlushTlb();
        }

        _hwWatchpointsArmed = wp;
    }

    private static bool PrivilegeMatches(ulong control, int el)
    {
        uint pmc = (uint)(control >> 1) & 3;
        return el == 0 ? (pmc & 2) != 0 : (pmc & 1) != 0;
    }

    private bool CheckBreakpoint(ulong pc)
    {
        if (!DebugExceptionsEnabled())
        {
            return false;
        }

        for (int i = 0; i < BreakpointCount; i++)
        {
            ulong bcr = State.Dbgbcr[i];
            if ((bcr & 1) != 0 && ((bcr >> 20) & 0xF) == 0 && PrivilegeMatches(bcr, State.El)
                && (State.Dbgbvr[i] & ~3UL) == pc)
            {
                uint ec = State.El == 0 ? Esr.EcBreakpointLow : Esr.EcBreakpointCur;
                TakeSyncException(Esr.Make(ec, Esr.FscDebug), 0, false);
                return true;
            }
        }

        return false;
    }

    private bool CheckWatchpoint(ulong va, int size, bool write)
    {
        if (!DebugExceptionsEnabled())
        {
            return false;
        }

        for (int i = 0; i < WatchpointCount; i++)
        {
            ulong wcr = State.Dbgwcr[i];
            uint lsc = (uint)(wcr >> 3) & 3;
            if ((wcr & 1) == 0 || !PrivilegeMatches(wcr, State.El) || (lsc & (write ? 2u : 1u)) == 0)
            {
                continue;
            }

            ulong wbase = State.Dbgwvr[i] & ~7UL;
            uint bas = (uint)(wcr >> 5) & 0xFF;
            for (int b = 0; b < 8; b++)
            {
                ulong a = wbase + (ulong)b;
                if ((bas & (1u << b)) != 0 && a >= va && a < va + (ulong)size)
                {
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

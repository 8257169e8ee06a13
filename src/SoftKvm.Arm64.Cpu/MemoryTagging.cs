using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// The instructions of FEAT_MTE/FEAT_MTE2 (Arm ARM C6.2: IRG, GMI, ADDG, SUBG, SUBP, SUBPS, STG, STZG,
/// ST2G, STZ2G, STGP, LDG, LDGM, STGM, STZGM; DC GVA and DC GZVA), UNDEFINED on a model without MTE.
/// A tag instruction translates its address like a load (LDG, LDGM) or store (the others) and faults as one,
/// but is never Tag Checked itself; it reads or writes allocation tags only where allocation-tag access is
/// enabled at the current EL (SCTLR_EL1.ATA/ATA0) and the memory is Tagged (MAIR_EL1 0xF0): elsewhere a tag
/// reads as 0 and a tag write is ignored, while the zeroing forms still zero the data.
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private const int TagGranule = 16;

    /// <summary>The block DC ZVA, DC GVA, DC GZVA and STZGM cover (DCZID_EL0.BS = 4: 64 bytes).</summary>
    private const int ZeroBlockBytes = 64;

    [A64Handler(A64Op.Irg)]
    private Flow InsertRandomTag(uint insn)
    {
        if (!Has(CpuFeatures.Mte))
        {
            return Undefined();
        }

        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        ulong operand = XOrSp(rn);
        int exclude = (int)((X(rm) | State.GcrEl1) & 0xFFFF);
        int tag = 0;
        if (AllocationTagAccessEnabled(State.El))
        {
            ulong rgsr = State.RgsrEl1;
            tag = RandomTag(ref rgsr, exclude);
            State.RgsrEl1 = rgsr;
        }

        SetXOrSp(rd, WithAddressTag(operand, tag));
        return Flow.Next;
    }

    [A64Handler(A64Op.Gmi)]
    private Flow TagMaskInsert(uint insn)
    {
        if (!Has(CpuFeatures.Mte))
        {
            return Undefined();
        }

        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        SetX(rd, X(rm) | (1UL << AddressTag(XOrSp(rn))));
        return Flow.Next;
    }

    [A64Handler(A64Op.Subp, A64Op.Subps)]
    private Flow SubtractPointer(uint insn, A64Op op)
    {
        if (!Has(CpuFeatures.Mte))
        {
            return Undefined();
        }

        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31, rm = (int)(insn >> 16) & 31;
        ulong a = SignExtend(XOrSp(rn) & ((1UL << 56) - 1), 56), b = SignExtend(XOrSp(rm) & ((1UL << 56) - 1), 56);
        ulong result = AddWithCarry(a, ~b, 1, true, out uint nzcv);
        if (op == A64Op.Subps)
        {
            State.Nzcv = nzcv;
        }

        SetX(rd, result);
        return Flow.Next;
    }

    [A64Handler(A64Op.Addg, A64Op.Subg)]
    private Flow AddSubTag(uint insn, A64Op op)
    {
        if (!Has(CpuFeatures.Mte))
        {
            return Undefined();
        }

        int rd = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        ulong offset = ((insn >> 16) & 0x3F) << 4;
        int tagOffset = (int)(insn >> 10) & 0xF;
        ulong operand = XOrSp(rn);
        int tag = AllocationTagAccessEnabled(State.El)
            ? ChooseNonExcludedTag(AddressTag(operand), tagOffset, (int)State.GcrEl1 & 0xFFFF)
            : 0;
        ulong result = op == A64Op.Addg ? operand + offset : operand - offset;
        SetXOrSp(rd, WithAddressTag(result, tag));
        return Flow.Next;
    }

    /// <summary>Load/store memory tags: opc (23:22) and op2 (11:10) select STZGM, STG, LDG, STZG, STGM, ST2G, LDGM, STZ2G.</summary>
    [A64Handler(A64Op.LoadStoreTags)]
    private Flow LoadStoreTags(uint insn)
    {
        if (!Has(CpuFeatures.Mte))
        {
            return Undefined();
        }

        uint opc = (insn >> 22) & 3, op2 = (insn >> 10) & 3;
        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        ulong imm9 = (insn >> 12) & 0x1FF;
        if (op2 == 0)
        {
            if (opc == 1)
            {
                return LoadTag(rt, rn, SignExtend(imm9, 9) << 4);
            }

            if (imm9 != 0)
            {
                return Undefined();
            }

            // STZGM, STGM, LDGM: EL1 only.
            return State.El == 0 ? Undefined() : opc switch
            {
                0 => StoreTagsMultiple(rt, rn, zero: true),
                2 => StoreTagsMultiple(rt, rn, zero: false),
                _ => LoadTagsMultiple(rt, rn),
            };
        }

        // STG (opc 0), STZG (1), ST2G (2), STZ2G (3); op2: 1 post-index, 2 signed offset, 3 pre-index.
        if (!BaseAddress(rn, out ulong baseAddress))
        {
            return Flow.Exception;
        }

        ulong offset = SignExtend(imm9, 9) << 4;
        ulong address = op2 == 1 ? baseAddress : baseAddress + offset;
        int granules = opc >= 2 ? 2 : 1;
        Flow flow = StoreTags(address, granules, AddressTag(XOrSp(rt)), zero: (opc & 1) != 0);
        if (flow == Flow.Next && op2 != 2)
        {
            SetXOrSp(rn, baseAddress + offset);
        }

        return flow;
    }

    /// <summary>STGP: stores Xt and Xt2 as STP does (Tag Unchecked) and the address's tag for its granule.</summary>
    private Flow StoreTagPair(uint insn, A64Op op)
    {
        if (!Has(CpuFeatures.Mte) || op == A64Op.LdStPairNoAlloc)
        {
            return Undefined();
        }

        int rt = (int)insn & 31, rt2 = (int)(insn >> 10) & 31, rn = (int)(insn >> 5) & 31;
        if (!BaseAddress(rn, out ulong baseAddress))
        {
            return Flow.Exception;
        }

        ulong offset = SignExtend((insn >> 15) & 0x7F, 7) << 4;
        ulong address = op == A64Op.LdStPairPost ? baseAddress : baseAddress + offset;
        if (!ProbeTagGranules(address, 1, write: true))
        {
            return FaultFlow;
        }

        if (!Write(address, 8, X(rt), 0) || !Write(address + 8, 8, X(rt2), 0))
        {
            return FaultFlow;
        }

        Flow flow = StoreTags(address, 1, AddressTag(address), zero: false);
        if (flow == Flow.Next && op != A64Op.LdStPairOffset)
        {
            SetXOrSp(rn, baseAddress + offset);
        }

        return flow;
    }

    /// <summary>LDG: Xt's address tag becomes the allocation tag of the granule at [Xn|SP + offset].</summary>
    private Flow LoadTag(int rt, int rn, ulong offset)
    {
        if (!BaseAddress(rn, out ulong baseAddress))
        {
            return Flow.Exception;
        }

        ulong address = (baseAddress + offset) & ~(ulong)(TagGranule - 1);
        if (!TranslateTagAccess(address, write: false, out ulong pa, out bool tagged, out _))
        {
            return Flow.Exception;
        }

        int tag = tagged ? Tags.Get(pa) : 0;
        SetX(rt, WithAddressTag(X(rt), tag));
        return Flow.Next;
    }

    /// <summary>LDGM: the tags of the GMID_EL1.BS block holding [Xn|SP], 4 bits per granule, into Xt.</summary>
    private Flow LoadTagsMultiple(int rt, int rn)
    {
        ulong address = XOrSp(rn) & ~(ulong)(GmBlockBytes - 1);
        if (!TranslateTagAccess(address, write: false, out ulong pa, out bool tagged, out _))
        {
            return Flow.Exception;
        }

        ulong tags = 0;
        for (int i = 0; tagged && i < GmBlockBytes / TagGranule; i++)
        {
            tags |= (ulong)Tags.Get(pa + (ulong)(i * TagGranule)) << (4 * i);
        }

        SetX(rt, tags);
        return Flow.Next;
    }

    /// <summary>
    /// STGM (the GMID_EL1.BS block holding [Xn|SP] takes Xt's 16 tags) or STZGM (the DCZID_EL0.BS block is
    /// zeroed and takes Xt[3:0] as the tag of each granule).
    /// </summary>
    private Flow StoreTagsMultiple(int rt, int rn, bool zero)
    {
        if (zero)
        {
            return SetBlockTags(XOrSp(rn), (int)X(rt) & 0xF, zero: true);
        }

        ulong address = XOrSp(rn) & ~(ulong)(GmBlockBytes - 1);
        if (!TranslateTagAccess(address, write: true, out ulong pa, out bool tagged, out _))
        {
            return Flow.Exception;
        }

        ulong tags = X(rt);
        for (int i = 0; tagged && i < GmBlockBytes / TagGranule; i++)
        {
            Tags.Set(pa + (ulong)(i * TagGranule), (int)(tags >> (4 * i)) & 0xF);
        }

        return Flow.Next;
    }

    /// <summary>DC GVA (the DC ZVA block holding Xt takes Xt's address tag) and DC GZVA (also zeroed, as DC ZVA).</summary>
    private Flow DataCacheSetTags(ulong va, bool zero)
    {
        if (!zero && !AllocationTagAccessEnabled(State.El))
        {
            return Flow.Next;
        }

        return SetBlockTags(va, AddressTag(va), zero);
    }

    /// <summary>The 64-byte block holding <paramref name="va"/>: tagged with <paramref name="tag"/>, and zeroed (as DC ZVA) when <paramref name="zero"/>.</summary>
    private Flow SetBlockTags(ulong va, int tag, bool zero)
    {
        ulong block = va & ~(ulong)(ZeroBlockBytes - 1);
        if (zero && (State.SctlrEl1 & SctlrM) == 0)
        {
            // With the MMU off the block is Device memory: the zeroing takes an Alignment fault, as DC ZVA's.
            DataAbortToGuest(va, Esr.FscAlignment, true);
            return Flow.Exception;
        }

        if (!TranslateTagAccess(block, write: true, out ulong pa, out bool tagged, out byte* host))
        {
            return Flow.Exception;
        }

        if (zero)
        {
            if (host == null)
            {
                DataAbortToGuest(va, Esr.FscAlignment, true); // not Normal memory, as DC ZVA
                return Flow.Exception;
            }

            HookAccess(AccessKind.Write, block, ZeroBlockBytes, 0);
            new Span<byte>(host, ZeroBlockBytes).Clear();
        }

        for (int i = 0; tagged && i < ZeroBlockBytes / TagGranule; i++)
        {
            Tags.Set(pa + (ulong)(i * TagGranule), tag);
        }

        return Flow.Next;
    }

    /// <summary>
    /// STG/STZG (one granule) and ST2G/STZ2G (two) at <paramref name="address"/>, which must be granule-aligned:
    /// every granule is translated (as a store) before any is written, so a fault leaves memory and tags unchanged.
    /// </summary>
    private Flow StoreTags(ulong address, int granules, int tag, bool zero)
    {
        if (!ProbeTagGranules(address, granules, write: true))
        {
            return FaultFlow;
        }

        for (int g = 0; g < granules; g++)
        {
            ulong va = address + (ulong)(g * TagGranule);
            TranslateTagAccess(va, write: true, out ulong pa, out bool tagged, out byte* host);
            if (zero)
            {
                if (host == null)
                {
                    Stage2Abort(va, pa, 0, true);
                    return Flow.Trap;
                }

                HookAccess(AccessKind.Write, va, TagGranule, 0);
                new Span<byte>(host, TagGranule).Clear();
            }

            if (tagged)
            {
                Tags.Set(pa, tag);
            }
        }

        return Flow.Next;
    }

    /// <summary>The alignment check and translation of <paramref name="granules"/> granules at <paramref name="address"/>; false with the fault taken.</summary>
    private bool ProbeTagGranules(ulong address, int granules, bool write)
    {
        if ((address & (TagGranule - 1)) != 0)
        {
            _faultIsTrap = false;
            DataAbortToGuest(address, Esr.FscAlignment, write);
            return false;
        }

        ulong last = address + (ulong)((granules - 1) * TagGranule);
        return TranslateTagAccess(address, write, out _, out _, out _)
            && ((last ^ address) < 4096 || TranslateTagAccess(last, write, out _, out _, out _));
    }

    /// <summary>
    /// Translates <paramref name="va"/> for a tag instruction at the current EL (a read or a write, with PAN);
    /// false with the fault taken. <paramref name="tagged"/>: allocation tags are accessible there (Tagged RAM,
    /// SCTLR_EL1.ATA/ATA0); <paramref name="host"/>: the RAM behind it, or null (a device page).
    /// </summary>
    private bool TranslateTagAccess(ulong va, bool write, out ulong pa, out bool tagged, out byte* host)
    {
        _faultIsTrap = false;
        if (!Translate(va, write ? AccessKind.Write : AccessKind.Read, State.El, out pa, out uint fsc, pan: PanActive))
        {
            DataAbortToGuest(va, fsc, write);
            tagged = false;
            host = null;
            return false;
        }

        tagged = _walkTagged;
        host = _memory.TryGetHostPointer(pa, write, out _);
        tagged &= host != null && AllocationTagAccessEnabled(State.El);
        return true;
    }
}

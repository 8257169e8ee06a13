using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.Mte;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// FEAT_MTE2 and FEAT_MTE3 (Arm ARM D10 "The Memory Tagging Extension"): the system registers (GCR_EL1,
/// RGSR_EL1, TFSR_EL1, TFSRE0_EL1, GMID_EL1, PSTATE.TCO), the SCTLR_EL1 fields (ATA, ATA0, TCF, TCF0,
/// ITFSB), the random tag generation of IRG, and the tag check of every checked load and store.
/// <para>
/// Memory is Tagged when its stage-1 attribute (MAIR_EL1) is Tagged Normal (0xF0); every RAM slot is
/// tag-capable. Tag checks cost nothing while they cannot happen: only with SCTLR_EL1.TCF (for EL1's TLB
/// entries) or TCF0 (for EL0's and LDTR/STTR's) non-zero (<see cref="_tagChecksConfigured"/>, which changes only
/// with an SCTLR_EL1 write, and every SCTLR_EL1 write flushes the TLB) does the walk of a Tagged page keep it out
/// of the read and write TLBs (<see cref="FillTlb"/>), so every access to it takes the slow path, where
/// <see cref="Resolve"/> checks its tag. Linux maps all of its memory Tagged once MTE exists, and sets TCF0 only
/// for the processes that ask for tag checks: its own accesses stay on the fast path. The fast paths of every
/// engine (the interpreter's, the inline TLB compare of native code) are the same with MTE as without it: a page
/// is either cached (no check can apply) or not.
/// </para>
/// <para>
/// Whether an access is Tag Checked is decided by the architecture's AArch64.AccessIsTagChecked: TBI set
/// for its half of the address space, not TCR_EL1.TCMA-matched, allocation-tag access enabled at its EL
/// (SCTLR_EL1.ATA/ATA0), PSTATE.TCO clear, and an instruction that checks: not a literal load nor an
/// access based on SP with an immediate offset (<see cref="IsTagUncheckedInstruction"/>, which reads the
/// instruction at PC: the check runs on the slow path only, so no engine passes it down).
/// </para>
/// </summary>
public sealed unsafe partial class Arm64Cpu
{
    private const ulong SctlrItfsb = 1UL << 37;
    private const int SctlrTcf0Shift = 38;
    private const int SctlrTcfShift = 40;
    private const ulong SctlrAta0 = 1UL << 42;
    private const ulong SctlrAta = 1UL << 43;

    /// <summary>The SCTLR_EL1 bits of FEAT_MTE2: ATA, ATA0, TCF, TCF0, ITFSB.</summary>
    private const ulong SctlrMteBits = SctlrAta | SctlrAta0 | (3UL << SctlrTcfShift) | (3UL << SctlrTcf0Shift) | SctlrItfsb;

    private const int TcrTcma0Shift = 57;

    /// <summary>The stage-1 attribute of Tagged Normal memory (Inner and Outer Write-Back, Read/Write-Allocate, tagged).</summary>
    private const ulong MairTagged = 0xF0;

    /// <summary>DFSC of a synchronous Tag Check Fault.</summary>
    internal const uint FscTagCheck = 0x11;

    /// <summary>GMID_EL1.BS: log2 of the words LDGM and STGM move: 2^6 words = 256 bytes, 16 tags.</summary>
    internal const int GmidBlockSizeLog2 = 6;

    /// <summary>Bytes of the block LDGM and STGM cover (16 granules: one 64-bit register of tags).</summary>
    private const int GmBlockBytes = 4 << GmidBlockSizeLog2;

    /// <summary>Whether the leaf of the last successful <see cref="Translate"/> maps Tagged memory.</summary>
    private bool _walkTagged;

    /// <summary>SCTLR_EL1.TCF or TCF0 is non-zero: Tagged pages stay out of the data TLBs (see the type's remarks).</summary>
    private bool _tagChecksConfigured;

    /// <summary>The VM's allocation tags.</summary>
    private MemoryTagStore Tags => _shared.Tags;

    /// <summary>Re-derives <see cref="_tagChecksConfigured"/> from SCTLR_EL1 (the caller flushes the TLB).</summary>
    private void UpdateTagChecking() =>
        _tagChecksConfigured = Has(CpuFeatures.Mte) && (State.SctlrEl1 & ((3UL << SctlrTcfShift) | (3UL << SctlrTcf0Shift))) != 0;

    /// <summary>Whether SCTLR_EL1.TCF (EL1) or TCF0 (EL0, and LDTR/STTR) makes tag check faults at <paramref name="el"/>.</summary>
    private bool TagChecksAt(int el) => ((State.SctlrEl1 >> (el == 0 ? SctlrTcf0Shift : SctlrTcfShift)) & 3) != 0;

    /// <summary>Whether the stage-1 leaf descriptor <paramref name="desc"/> maps Tagged memory (MAIR_EL1 attribute 0xF0).</summary>
    private bool IsTaggedAttribute(ulong desc) =>
        Has(CpuFeatures.Mte) && ((State.MairEl1 >> (8 * (int)((desc >> 2) & 7))) & 0xFF) == MairTagged;

    /// <summary>AArch64.AllocationTagAccessIsEnabled: SCTLR_EL1.ATA at EL1, ATA0 at EL0.</summary>
    private bool AllocationTagAccessEnabled(int el) =>
        Has(CpuFeatures.Mte) && (State.SctlrEl1 & (el == 0 ? SctlrAta0 : SctlrAta)) != 0;

    /// <summary>The logical (address) tag of <paramref name="address"/>: bits 59:56.</summary>
    private static int AddressTag(ulong address) => (int)(address >> 56) & 0xF;

    /// <summary>AArch64.AddressWithAllocationTag: <paramref name="address"/> with bits 59:56 replaced by <paramref name="tag"/>.</summary>
    private static ulong WithAddressTag(ulong address, int tag) => (address & ~(0xFUL << 56)) | ((ulong)(tag & 0xF) << 56);

    /// <summary>
    /// The tag check of an access of <paramref name="size"/> bytes at <paramref name="va"/> (inside one page,
    /// physical <paramref name="pa"/>) to Tagged memory. True when the access may go on (unchecked, the tags
    /// match, or an asynchronous fault was recorded in TFSR_EL1/TFSRE0_EL1); false with the synchronous Tag
    /// Check Fault taken (a data abort, DFSC 0x11, FAR the address of the first mismatching granule).
    /// </summary>
    private bool CheckTag(ulong va, ulong pa, int size, bool write, bool unprivileged)
    {
        int el = unprivileged ? 0 : State.El;
        int tcf = (int)(State.SctlrEl1 >> (el == 0 ? SctlrTcf0Shift : SctlrTcfShift)) & 3;
        if (tcf == 0 || !IsTagChecked(va, el))
        {
            return true;
        }

        int tag = AddressTag(va);
        ulong first = pa & ~15UL, last = (pa + (ulong)size - 1) & ~15UL;
        for (ulong granule = first; granule <= last; granule += 16)
        {
            if (Tags.Get(granule) == tag)
            {
                continue;
            }

            bool sync = tcf == 1 || (tcf == 3 && Has(CpuFeatures.Mte3) && !write);
            if (!sync)
            {
                // Asynchronous (TCF = 2, or a write under the asymmetric mode TCF = 3): TFSR<el>.TF0/TF1 by VA[55].
                ulong bit = 1UL << (int)((va >> 55) & 1);
                if (el == 0)
                {
                    State.TfsrE0El1 |= bit;
                }
                else
                {
                    State.TfsrEl1 |= bit;
                }

                return true;
            }

            ulong far = granule == first ? va : (va & ~15UL) + (granule - first);
            DataAbortToGuest(far, FscTagCheck, write);
            return false;
        }

        return true;
    }

    /// <summary>AArch64.AccessIsTagChecked for a data access at <paramref name="el"/> (the instruction-based part last).</summary>
    private bool IsTagChecked(ulong va, int el)
    {
        bool upper = ((va >> 55) & 1) != 0;
        ulong tcr = State.TcrEl1;
        if (((tcr >> (upper ? 38 : 37)) & 1) == 0)
        {
            return false; // no top-byte-ignore: the address has no tag
        }

        uint top = (uint)(va >> 55) & 0x1F;
        if (((tcr >> (TcrTcma0Shift + (upper ? 1 : 0))) & 1) != 0 && (top == 0 || top == 0x1F))
        {
            return false; // TCR_EL1.TCMA: tag 0 (lower half) or 0xF (upper half) matches all
        }

        return AllocationTagAccessEnabled(el) && (State.PstateFlags & Psr.Tco) == 0 && !IsTagUncheckedInstruction();
    }

    /// <summary>
    /// Whether the instruction at PC makes Tag Unchecked accesses: literal loads, and loads and stores whose
    /// base is SP with an immediate offset (register, pair, exclusive, ordered, atomic forms, LDRAA/LDRAB without
    /// writeback, and SIMD structures without post-index), as QEMU's translator decides it.
    /// </summary>
    private bool IsTagUncheckedInstruction()
    {
        uint insn = CurrentInstructionWord();
        bool spBase = ((insn >> 5) & 31) == 31;
        return A64Decoder.Decode(insn) switch
        {
            A64Op.LdrLit or A64Op.LdrswLit or A64Op.LdrLitFp => true,
            A64Op.LdStUnscaled or A64Op.LdStPost or A64Op.LdStUnpriv or A64Op.LdStPre or A64Op.LdStUnsignedOffset => spBase,
            A64Op.LdStPairNoAlloc or A64Op.LdStPairPost or A64Op.LdStPairOffset or A64Op.LdStPairPre =>
                spBase || (insn & 0xFC40_0000) == 0x6800_0000, // STGP's data stores are Tag Unchecked
            >= A64Op.Stxr and <= A64Op.LdapurStlur => spBase,
            A64Op.SimdLdStMultiple or A64Op.SimdLdStSingle => spBase && ((insn >> 23) & 1) == 0,
            A64Op.LdrPac => spBase && ((insn >> 11) & 1) == 0, // LDRAA/LDRAB without writeback
            _ => false,
        };
    }

    /// <summary>The instruction word at PC (just fetched, so its page translates), or 0 if it cannot be read.</summary>
    private uint CurrentInstructionWord()
    {
        ulong pc = State.Pc;
        ref TlbEntry e = ref _execTlb[(int)(pc >> 12) & TlbMask];
        if (e.Tag == ((pc & ~0xFFFUL) | _tagEl))
        {
            return *(uint*)(e.Delta + (long)pc);
        }

        bool walkTagged = _walkTagged;
        bool ok = Translate(pc, AccessKind.Execute, State.El, out ulong pa, out _);
        _walkTagged = walkTagged;
        byte* host = ok ? _memory.TryGetHostPointer(pa, false, out _) : null;
        return host == null ? 0 : *(uint*)host;
    }

    // ---- IRG's tag generation (Arm ARM AArch64.RandomTag, AArch64.ChooseNonExcludedTag) ----

    /// <summary>
    /// The tag IRG inserts: the next non-excluded tag after RGSR_EL1.TAG, offset by four bits of RGSR_EL1.SEED's
    /// LFSR. GCR_EL1.RRND = 1 allows an IMPLEMENTATION DEFINED generator; SoftKvm uses the same LFSR then
    /// (RGSR_EL1 is UNKNOWN after it either way), so a run is reproducible.
    /// </summary>
    internal static int RandomTag(ref ulong rgsr, int exclude)
    {
        int start = (int)rgsr & 0xF;
        uint seed = (uint)(rgsr >> 8) & 0xFFFF;
        int offset = 0;
        for (int i = 0; i < 4; i++)
        {
            uint top = ((seed >> 5) ^ (seed >> 3) ^ (seed >> 2) ^ seed) & 1;
            seed = (seed >> 1) | (top << 15);
            offset |= (int)top << i;
        }

        int tag = ChooseNonExcludedTag(start, offset, exclude);
        rgsr = ((ulong)seed << 8) | (uint)tag;
        return tag;
    }

    /// <summary>AArch64.ChooseNonExcludedTag: <paramref name="offset"/> steps from <paramref name="tag"/> over non-excluded tags.</summary>
    internal static int ChooseNonExcludedTag(int tag, int offset, int exclude)
    {
        if ((exclude & 0xFFFF) == 0xFFFF)
        {
            return 0;
        }

        if (offset == 0)
        {
            while (((exclude >> tag) & 1) != 0)
            {
                tag = (tag + 1) & 0xF;
            }
        }

        while (offset != 0)
        {
            offset--;
            tag = (tag + 1) & 0xF;
            while (((exclude >> tag) & 1) != 0)
            {
                tag = (tag + 1) & 0xF;
            }
        }

        return tag;
    }

    // ---- system registers ----

    /// <summary>MRS of an MTE register at EL1 (false: not one, or the model has no MTE).</summary>
    private bool TryReadMteRegister(uint key, out ulong value)
    {
        value = 0;
        if (!Has(CpuFeatures.Mte))
        {
            return false;
        }

        switch (key)
        {
            case SysReg.GcrEl1: value = State.GcrEl1; return true;
            case SysReg.RgsrEl1: value = State.RgsrEl1; return true;
            case SysReg.TfsrEl1: value = State.TfsrEl1; return true;
            case SysReg.TfsrE0El1: value = State.TfsrE0El1; return true;
            case SysReg.GmidEl1: value = GmidBlockSizeLog2; return true;
            default: return false;
        }
    }

    /// <summary>MSR of an MTE register at EL1 (false: not one, read-only, or the model has no MTE).</summary>
    private bool TryWriteMteRegister(uint key, ulong value)
    {
        if (!Has(CpuFeatures.Mte))
        {
            return false;
        }

        switch (key)
        {
            case SysReg.GcrEl1: State.GcrEl1 = value & 0x1_FFFF; return true; // Exclude[15:0], RRND[16]
            case SysReg.RgsrEl1: State.RgsrEl1 = value & 0xFF_FF0F; return true; // TAG[3:0], SEED[23:8]
            case SysReg.TfsrEl1: State.TfsrEl1 = value & 3; return true; // TF0, TF1
            case SysReg.TfsrE0El1: State.TfsrE0El1 = value & 3; return true;
            default: return false;
        }
    }
}

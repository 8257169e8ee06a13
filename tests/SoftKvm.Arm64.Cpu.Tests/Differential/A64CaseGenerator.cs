using SoftKvm.Arm64.Cpu.Decoder;

namespace SoftKvm.Arm64.Cpu.Tests.Differential;

/// <summary>
/// Generates random valid A64 blocks from the decode table the CPU uses: it picks a row of
/// <see cref="A64DecodeTable.Rows"/>, fills the row's variable bits at random, applies the row's
/// constraints (reserved field values and CONSTRAINED UNPREDICTABLE register combinations are rerolled,
/// should-be-one fields are set), and keeps the word only when the table decodes it to that same row.
/// Branches only go forward inside the block (or to its end); loads and stores get their base (and
/// offset) registers set by MOVZ/MOVK (and ADD SP) in front of them so every access lands in the
/// scratch page. Rows on <see cref="DoNotTest"/> are never generated, each with its reason.
/// </summary>
internal sealed class A64CaseGenerator
{
    /// <summary>The rows never generated, and why.</summary>
    public static readonly IReadOnlyDictionary<A64Op, string> DoNotTest = new Dictionary<A64Op, string>
    {
        [A64Op.Svc] = "exception generating: a Linux system call under qemu-user, an EL1 exception in SoftKvm (covered by the exception tests)",
        [A64Op.Hvc] = "exception generating: UNDEFINED at EL0; SoftKvm traps it to the hypervisor (covered by the PSCI tests)",
        [A64Op.Smc] = "exception generating: UNDEFINED at EL0; SoftKvm traps it to the hypervisor",
        [A64Op.Brk] = "exception generating: SIGTRAP under Linux vs an EL1 debug exception (covered by the debug tests)",
        [A64Op.Hlt] = "exception generating: UNDEFINED without a halting debugger, a semihosting call with --semihosting (covered by the semihosting tests)",
        [A64Op.Wfe] = "traps to the hypervisor in SoftKvm (as with HCR_EL2.TWE), only a yield under qemu-user",
        [A64Op.Wfi] = "traps to the hypervisor in SoftKvm (as with HCR_EL2.TWI), only a yield under qemu-user",
        [A64Op.MsrImm] = "system: the PSTATE fields (DAIF, SPSel, PAN, UAO) are EL1 state or trapped by the kernel at EL0",
        [A64Op.Sys] = "system: cache and TLB maintenance and AT are EL1 operations, EL0 access is decided by the kernel",
        [A64Op.Sysl] = "system: SYSL is unallocated in ARMv8.0 apart from IMPLEMENTATION DEFINED registers",
        [A64Op.MsrReg] = "system registers: EL0 access under Linux is decided by the kernel (emulated ID registers, SCTLR_EL1.UCT/UCI/DZE)",
        [A64Op.Mrs] = "system registers: EL0 access under Linux is decided by the kernel (emulated ID registers, counters, SCTLR_EL1.UCT)",
        [A64Op.Eret] = "exception return: UNDEFINED at EL0",
    };

    /// <summary>Parts of tested rows that are never generated, and why.</summary>
    public static readonly IReadOnlyList<string> PartialExclusions =
    [
        "load/store rows: addresses outside the scratch page (every base register is set in front of the access)",
        "branches: backward targets and targets outside the block (they could loop or leave the block)",
        "LDAR/STLR/LDXR/LDXP: unaligned addresses (an alignment fault in ARMv8.0, the generator aligns them)",
        "CONSTRAINED UNPREDICTABLE register choices: writeback with Rn == Rt/Rt2, LDP/LDXP with Rt == Rt2, register offset with Rm == Rn, STXR/STXP with Rs == Rt/Rt2/Rn",
        "store-exclusives: only with the monitor known to be open (no earlier load-exclusive in the block: the STXR fails and stores nothing) or right after a load-exclusive of the same address and size (it succeeds); a STXR to another address or size than the armed one is CONSTRAINED UNPREDICTABLE (Arm ARM B2.9)",
    ];

    private const int MaxItems = 8;
    private const ulong BaseWindow = 0x2000_0000;

    private static readonly HashSet<A64Op> s_generated =
    [
        A64Op.Adr, A64Op.Adrp, A64Op.AddImm, A64Op.AddsImm, A64Op.SubImm, A64Op.SubsImm,
        A64Op.AndImm, A64Op.OrrImm, A64Op.EorImm, A64Op.AndsImm, A64Op.Movn, A64Op.Movz, A64Op.Movk,
        A64Op.Sbfm, A64Op.Bfm, A64Op.Ubfm, A64Op.Extr,
        A64Op.BCond, A64Op.Nop, A64Op.Yield, A64Op.Sev, A64Op.Sevl, A64Op.Hint, A64Op.Clrex, A64Op.Dsb, A64Op.Dmb, A64Op.Isb,
        A64Op.Br, A64Op.Blr, A64Op.Ret, A64Op.B, A64Op.Bl, A64Op.Cbz, A64Op.Cbnz, A64Op.Tbz, A64Op.Tbnz,
        A64Op.Ldxr, A64Op.Ldaxr, A64Op.Ldxp, A64Op.Ldaxp, A64Op.Stlr, A64Op.Ldar,
        A64Op.Stxr, A64Op.Stlxr, A64Op.Stxp, A64Op.Stlxp,
        A64Op.LdrLit, A64Op.LdrswLit, A64Op.PrfmLit,
        A64Op.LdStPairNoAlloc, A64Op.LdStPairPost, A64Op.LdStPairOffset, A64Op.LdStPairPre,
        A64Op.LdStUnscaled, A64Op.LdStPost, A64Op.LdStUnpriv, A64Op.LdStPre, A64Op.LdStRegOffset, A64Op.LdStUnsignedOffset,
        A64Op.AndShifted, A64Op.BicShifted, A64Op.OrrShifted, A64Op.OrnShifted, A64Op.EorShifted, A64Op.EonShifted,
        A64Op.AndsShifted, A64Op.BicsShifted, A64Op.AddShifted, A64Op.AddsShifted, A64Op.SubShifted, A64Op.SubsShifted,
        A64Op.AddExt, A64Op.AddsExt, A64Op.SubExt, A64Op.SubsExt, A64Op.Adc, A64Op.Adcs, A64Op.Sbc, A64Op.Sbcs,
        A64Op.CcmnReg, A64Op.CcmpReg, A64Op.CcmnImm, A64Op.CcmpImm, A64Op.Csel, A64Op.Csinc, A64Op.Csinv, A64Op.Csneg,
        A64Op.Udiv, A64Op.Sdiv, A64Op.Lslv, A64Op.Lsrv, A64Op.Asrv, A64Op.Rorv, A64Op.Crc32, A64Op.Crc32c,
        A64Op.Rbit, A64Op.Rev16, A64Op.Rev32, A64Op.Rev, A64Op.Clz, A64Op.Cls,
        A64Op.Madd, A64Op.Msub, A64Op.Smaddl, A64Op.Smsubl, A64Op.Smulh, A64Op.Umaddl, A64Op.Umsubl, A64Op.Umulh,
        A64Op.LdrLitFp, A64Op.FmovGeneral, A64Op.FmovReg, A64Op.FmovImm, A64Op.Movi, A64Op.DupGeneral,
        A64Op.UmovToGeneral, A64Op.InsGeneral, A64Op.InsElement,
    ];

    /// <summary>
    /// The rows of the ARMv8.1+ instructions the <c>max</c> model implements, generated only for it
    /// (<c>maxModel</c>) and compared with <c>qemu-aarch64 -cpu max</c>; on cortex-a57 they are UNDEFINED.
    /// </summary>
    public static readonly IReadOnlySet<A64Op> MaxOnly = new HashSet<A64Op>
    {
        A64Op.Cas, A64Op.Casp, A64Op.AtomicMemory, A64Op.LdapurStlur,
        A64Op.Sb, A64Op.Cfinv, A64Op.Xaflag, A64Op.Axflag, A64Op.Rmif, A64Op.Setf,
        A64Op.SimdThreeSameExtra, A64Op.SimdScalarThreeSameExtra, A64Op.CryptoAes, A64Op.CryptoSha3Reg, A64Op.CryptoSha2Reg,
        A64Op.CryptoFourReg, A64Op.CryptoXar, A64Op.CryptoSha512ThreeReg, A64Op.CryptoSha512TwoReg, A64Op.CryptoSm3Tt,
    };

    /// <summary>
    /// The rows of FEAT_MTE2 (IRG, GMI, ADDG, SUBG, SUBP, SUBPS, the tag loads and stores; STGP comes with the tag
    /// stores), generated only for the max model and compared with <c>qemu-aarch64 -cpu max</c>, which runs user
    /// space as Linux does: allocation tags accessible (SCTLR_EL1.ATA0), every tag excluded from IRG and ADDG
    /// (GCR_EL1.Exclude = 0xFFFF), tag checks off, and memory not mapped PROT_MTE (untagged: LDG reads 0, STG is ignored).
    /// </summary>
    public static readonly IReadOnlySet<A64Op> MteOnly = new HashSet<A64Op>
    {
        A64Op.Addg, A64Op.Subg, A64Op.Subp, A64Op.Subps, A64Op.Irg, A64Op.Gmi, A64Op.LoadStoreTags,
    };

    private readonly int[] _rows;
    private readonly (uint Mask, uint Value, int Row)[] _focused;
    private readonly List<uint> _pending = [];
    private readonly List<Fixup> _pendingFixups = [];
    private SplitMix64 _rng;

    /// <summary>A load-exclusive was generated earlier in the block: a lone store-exclusive is no longer defined.</summary>
    private bool _armed;

    /// <summary>
    /// In half of the cases, every 5-bit register-shaped field is drawn from four registers (which may
    /// include 31, SP or ZR), so results feed each other and Rd == Rn == Rm cases are common.
    /// </summary>
    private readonly int[] _pool = new int[4];
    private bool _usePool;

    private readonly int _rawPercent;

    /// <param name="seed">The generator's seed.</param>
    /// <param name="filter">Generate only the rows whose op it accepts.</param>
    /// <param name="rawPercent">
    /// The share of instructions emitted without the row's constraints (reserved field values, any base
    /// register), to compare UNDEFINED and fault behaviour; branches, literals and exclusives stay constrained.
    /// </param>
    /// <param name="includeUncovered">Also generate the <see cref="UncoveredRows"/>, unconstrained (for triage).</param>
    /// <param name="maxModel">Also generate the <see cref="MaxOnly"/> rows (for the max model against <c>qemu -cpu max</c>).</param>
    public A64CaseGenerator(ulong seed, Func<A64Op, bool>? filter = null, int rawPercent = 0, bool includeUncovered = false, bool maxModel = false)
    {
        _rawPercent = rawPercent;
        _rng = new SplitMix64(seed);
        _rows = TestedRows(maxModel).Concat(includeUncovered ? UncoveredRows() : [])
            .Where(r => filter is null || filter(A64DecodeTable.Rows[r].Op)).ToArray();
        _focused = A64FocusedForms.Forms
            .Select(f => (Encoding: A64FocusedForms.Encoding(f.Pattern), Row: A64FocusedForms.Row(f.Pattern)))
            .Where(f => filter is null || filter(A64DecodeTable.Rows[f.Row].Op))
            .Concat((maxModel ? A64FocusedForms.MaxForms : [])
                .Select(f => (Encoding: A64FocusedForms.Encoding(f.Pattern), Row: A64FocusedForms.Row(f.Pattern))))
            .Select(f => (f.Encoding.Mask, f.Encoding.Value, f.Row)).ToArray();
        if (_rows.Length + _focused.Length == 0)
        {
            throw new InvalidOperationException("no decode-table row is selected for generation");
        }
    }

    private enum FixKind
    {
        Imm19,
        Imm14,
        Imm26,
        Adr,
        Literal,
    }

    private readonly record struct Fixup(int Word, FixKind Kind, int TargetItem, uint Random);

    /// <summary>The indexes of the decode-table rows the generator produces.</summary>
    public static IEnumerable<int> TestedRows(bool maxModel = false)
    {
        for (int r = 0; r < A64DecodeTable.Rows.Length; r++)
        {
            var op = A64DecodeTable.Rows[r].Op;
            if (!DoNotTest.ContainsKey(op) && (s_generated.Contains(op) || (maxModel && (MaxOnly.Contains(op) || MteOnly.Contains(op)))))
            {
                yield return r;
            }
        }
    }

    /// <summary>Rows neither generated nor on <see cref="DoNotTest"/> (new rows the generator does not know yet).</summary>
    public static IEnumerable<int> UncoveredRows() =>
        Enumerable.Range(0, A64DecodeTable.Rows.Length)
            .Where(r => !DoNotTest.ContainsKey(A64DecodeTable.Rows[r].Op) && !s_generated.Contains(A64DecodeTable.Rows[r].Op)
                && !MaxOnly.Contains(A64DecodeTable.Rows[r].Op) && !MteOnly.Contains(A64DecodeTable.Rows[r].Op));

    /// <summary>The next random case.</summary>
    public DiffCase Next()
    {
        ulong caseSeed = _rng.Next();
        int items = _rng.Between(1, MaxItems);
        var words = new List<uint>();
        var fixups = new List<Fixup>();
        var starts = new int[items + 1];
        _armed = false;
        _usePool = _rng.Chance(50);
        for (int i = 0; i < _pool.Length; i++)
        {
            _pool[i] = _rng.Below(32);
        }
        for (int i = 0; i < items; i++)
        {
            starts[i] = words.Count;
            bool done = false;
            for (int attempt = 0; attempt < 1000 && !done; attempt++)
            {
                _pending.Clear();
                _pendingFixups.Clear();
                int pick = _rng.Below(_rows.Length + _focused.Length);
                done = pick < _rows.Length ? TryInstruction(_rows[pick], i, items) : TryFocused(_focused[pick - _rows.Length]);
            }

            if (!done)
            {
                throw new InvalidOperationException("the generator found no valid encoding in 1000 attempts");
            }

            foreach (var f in _pendingFixups)
            {
                fixups.Add(f with { Word = f.Word + words.Count });
            }

            words.AddRange(_pending);
        }

        starts[items] = words.Count;
        foreach (var f in fixups)
        {
            words[f.Word] = Patch(words[f.Word], f, starts, words.Count);
        }

        return new DiffCase(caseSeed, [.. words], items);
    }

    private static uint Patch(uint w, Fixup f, int[] starts, int total)
    {
        int target = f.Kind == FixKind.Literal ? (int)(f.Random % (uint)(total + 1)) : starts[f.TargetItem];
        int off = target - f.Word;
        switch (f.Kind)
        {
            case FixKind.Imm19:
            case FixKind.Literal:
                return (w & ~(0x7FFFFu << 5)) | (((uint)off & 0x7FFFF) << 5);
            case FixKind.Imm14:
                return (w & ~(0x3FFFu << 5)) | (((uint)off & 0x3FFF) << 5);
            case FixKind.Imm26:
                return (w & ~0x3FF_FFFFu) | ((uint)off & 0x3FF_FFFF);
            default:
                uint bytes = (uint)(off * 4);
                return (w & ~((3u << 29) | (0x7FFFFu << 5))) | ((bytes & 3) << 29) | (((bytes >> 2) & 0x7FFFF) << 5);
        }
    }

    private static uint Field(uint w, int lsb, int bits) => (w >> lsb) & ((1u << bits) - 1);

    private static uint With(uint w, int lsb, int bits, uint value) => (w & ~(((1u << bits) - 1) << lsb)) | ((value & ((1u << bits) - 1)) << lsb);

    private void Emit(uint w) => _pending.Add(w);

    private void EmitFixup(uint w, FixKind kind, int target)
    {
        _pendingFixups.Add(new Fixup(_pending.Count, kind, target, (uint)_rng.Next()));
        _pending.Add(w);
    }

    private int ForwardTarget(int item, int items) => item + 1 + _rng.Below(items - item);

    private bool TryInstruction(int row, int item, int items)
    {
        var (mask, value) = A64Decoder.RowEncoding(row);
        A64Op op = A64DecodeTable.Rows[row].Op;
        uint w = value | ((uint)_rng.Next() & ~mask);
        if (_usePool)
        {
            foreach (int lsb in (ReadOnlySpan<int>)[0, 5, 10, 16])
            {
                if (((~mask >> lsb) & 31) == 31)
                {
                    w = With(w, lsb, 5, (uint)_pool[_rng.Below(_pool.Length)]);
                }
            }
        }

        bool sf = (w >> 31) != 0;
        int rt = (int)Field(w, 0, 5), rn = (int)Field(w, 5, 5), rm = (int)Field(w, 16, 5), rt2 = (int)Field(w, 10, 5);
        if (MaxOnly.Contains(op))
        {
            return MaxInstruction(row, w, op);
        }

        if (MteOnly.Contains(op))
        {
            return MteInstruction(row, w, op);
        }

        if (!s_generated.Contains(op))
        {
            return Finish(row, w, null, 0);
        }

        if (_rawPercent > 0 && _rng.Below(100) < _rawPercent && !IsConstrainedAlways(op))
        {
            // QEMU does not implement the SP alignment check (SCTLR_EL1.SA0) that Linux enables and
            // SoftKvm models, so an unconstrained access never uses SP as its base.
            bool memory = op is A64Op.Stlr or A64Op.Ldar or A64Op.LdStPairNoAlloc or A64Op.LdStPairPost or A64Op.LdStPairOffset
                or A64Op.LdStPairPre or A64Op.LdStUnscaled or A64Op.LdStPost or A64Op.LdStUnpriv or A64Op.LdStPre
                or A64Op.LdStRegOffset or A64Op.LdStUnsignedOffset;
            return (!memory || rn != 31) && Finish(row, w, null, 0);
        }

        switch (op)
        {
            case A64Op.AndImm or A64Op.OrrImm or A64Op.EorImm or A64Op.AndsImm:
                if (!ValidLogicalImmediate(sf, Field(w, 22, 1), Field(w, 10, 6)))
                {
                    return false;
                }

                break;
            case A64Op.Movn or A64Op.Movz or A64Op.Movk:
                if (!sf && Field(w, 21, 2) > 1)
                {
                    return false;
                }

                break;
            case A64Op.Sbfm or A64Op.Bfm or A64Op.Ubfm:
                if (Field(w, 22, 1) != (sf ? 1u : 0u) || (!sf && (Field(w, 16, 6) > 31 || Field(w, 10, 6) > 31)))
                {
                    return false;
                }

                break;
            case A64Op.Extr:
                if (Field(w, 22, 1) != (sf ? 1u : 0u) || (!sf && Field(w, 10, 6) > 31))
                {
                    return false;
                }

                break;
            case A64Op.AndShifted or A64Op.BicShifted or A64Op.OrrShifted or A64Op.OrnShifted
                or A64Op.EorShifted or A64Op.EonShifted or A64Op.AndsShifted or A64Op.BicsShifted:
                if (!sf && Field(w, 10, 6) > 31)
                {
                    return false;
                }

                break;
            case A64Op.AddShifted or A64Op.AddsShifted or A64Op.SubShifted or A64Op.SubsShifted:
                if (Field(w, 22, 2) == 3 || (!sf && Field(w, 10, 6) > 31))
                {
                    return false;
                }

                break;
            case A64Op.AddExt or A64Op.AddsExt or A64Op.SubExt or A64Op.SubsExt:
                if (Field(w, 10, 3) > 4)
                {
                    return false;
                }

                break;
            case A64Op.Crc32 or A64Op.Crc32c:
                if (sf != (Field(w, 10, 2) == 3))
                {
                    return false;
                }

                break;
            case A64Op.Smulh or A64Op.Umulh:
                w = With(w, 10, 5, 31);
                break;
            case A64Op.BCond or A64Op.Cbz or A64Op.Cbnz:
                return Finish(row, w, FixKind.Imm19, ForwardTarget(item, items));
            case A64Op.Tbz or A64Op.Tbnz:
                return Finish(row, w, FixKind.Imm14, ForwardTarget(item, items));
            case A64Op.B or A64Op.Bl:
                return Finish(row, w, FixKind.Imm26, ForwardTarget(item, items));
            case A64Op.Br or A64Op.Blr or A64Op.Ret:
                if (rn == 31)
                {
                    rn = _rng.Below(31);
                    w = With(w, 5, 5, (uint)rn);
                }

                if (A64Decoder.MatchingRow(w) != row)
                {
                    return false;
                }

                EmitFixup(0x1000_0000u | (uint)rn, FixKind.Adr, ForwardTarget(item, items));
                Emit(w);
                return true;
            case A64Op.LdrLit or A64Op.LdrswLit:
                return Finish(row, w, FixKind.Literal, 0);
            case A64Op.LdrLitFp:
                return Field(w, 30, 2) != 3 && Finish(row, w, FixKind.Literal, 0);
            case A64Op.FmovGeneral:
            {
                uint form = (Field(w, 31, 1) << 4) | (Field(w, 22, 2) << 2) | Field(w, 19, 2);
                if (form is not (0x00 or 0x14 or 0x19))
                {
                    return false;
                }

                break;
            }

            case A64Op.FmovReg or A64Op.FmovImm:
                if (Field(w, 22, 2) > 1)
                {
                    return false;
                }

                break;
            case A64Op.Movi:
                if (Field(w, 12, 4) == 15 && Field(w, 29, 1) == 1 && Field(w, 30, 1) == 0)
                {
                    return false;
                }

                break;
            case A64Op.DupGeneral or A64Op.UmovToGeneral or A64Op.InsGeneral or A64Op.InsElement:
            {
                uint imm5 = Field(w, 16, 4);
                bool q = Field(w, 30, 1) != 0;
                if (imm5 == 0 || (op == A64Op.DupGeneral && imm5 == 8 && !q) || (op == A64Op.UmovToGeneral && (imm5 == 8) != q))
                {
                    return false;
                }

                break;
            }

            case A64Op.Ldxr or A64Op.Ldaxr or A64Op.Ldar or A64Op.Stlr:
            {
                w = With(With(w, 16, 5, 31), 10, 5, 31);
                int bytes = 1 << (int)(w >> 30);
                bool ok = Memory(row, w, rn, 0, false, bytes, bytes, -1);
                _armed |= ok && op is A64Op.Ldxr or A64Op.Ldaxr;
                return ok;
            }

            case A64Op.Ldxp or A64Op.Ldaxp:
            {
                w = With(w, 16, 5, 31);
                if (rt == rt2)
                {
                    return false;
                }

                int bytes = 8 << (int)Field(w, 30, 1);
                bool ok = Memory(row, w, rn, 0, false, bytes, bytes, -1);
                _armed |= ok;
                return ok;
            }

            case A64Op.Stxr or A64Op.Stlxr or A64Op.Stxp or A64Op.Stlxp:
                return StoreExclusive(row, w, op);

            case A64Op.LdStPairNoAlloc or A64Op.LdStPairPost or A64Op.LdStPairOffset or A64Op.LdStPairPre:
                return Pair(row, w, op);
            case A64Op.LdStUnscaled or A64Op.LdStPost or A64Op.LdStUnpriv or A64Op.LdStPre
                or A64Op.LdStRegOffset or A64Op.LdStUnsignedOffset:
                return Single(row, w, op);
        }

        return Finish(row, w, null, 0);
    }

    /// <summary>
    /// A <see cref="MaxOnly"/> instruction: the atomics and ordered accesses get an aligned address in the
    /// scratch page (no FEAT_LSE2: unaligned ones fault), unallocated forms are rerolled (o3/opc of the
    /// atomic memory class other than SWP and LDAPR, an odd CASP register, LDAPURS to a register narrower
    /// than its access); the flag instructions need nothing.
    /// </summary>
    private bool MaxInstruction(int row, uint w, A64Op op)
    {
        int size = (int)(w >> 30);
        int rn = (int)Field(w, 5, 5);
        switch (op)
        {
            case A64Op.SimdThreeSameExtra or A64Op.SimdScalarThreeSameExtra or A64Op.CryptoAes or A64Op.CryptoSha3Reg or A64Op.CryptoSha2Reg
                or A64Op.CryptoFourReg or A64Op.CryptoXar or A64Op.CryptoSha512ThreeReg or A64Op.CryptoSha512TwoReg:
                // Whole classes with forms of features max does not have (I8MM, BF16, FP16): their
                // implemented forms come from A64FocusedForms.MaxForms.
                return false;
            case A64Op.AtomicMemory:
            {
                uint o3 = Field(w, 15, 1), opc = Field(w, 12, 3);
                if (o3 == 1 && opc == 4)
                {
                    w = With(With(With(w, 23, 1, 1), 22, 1, 0), 16, 5, 31); // LDAPR
                }
                else if (o3 == 1 && opc != 0)
                {
                    return false;
                }

                return Memory(row, w, rn, 0, false, 1 << size, 1 << size, -1);
            }

            case A64Op.Cas:
                return Memory(row, w, rn, 0, false, 1 << size, 1 << size, -1);
            case A64Op.Casp:
            {
                if ((Field(w, 0, 1) | Field(w, 16, 1)) != 0)
                {
                    return false;
                }

                int bytes = 8 << (size & 1);
                return Memory(row, w, rn, 0, false, bytes, bytes, -1);
            }

            case A64Op.LdapurStlur:
            {
                uint opc = Field(w, 22, 2);
                if ((size == 3 && opc >= 2) || (size == 2 && opc == 3))
                {
                    return false;
                }

                long offset = (long)Field(w, 12, 9) << 55 >> 55;
                return Memory(row, w, rn, offset, false, 1 << size, 1 << size, -1);
            }
        }

        return Finish(row, w, null, 0);
    }

    /// <summary>
    /// An FEAT_MTE2 instruction: the tag loads and stores (and, a third of the time, an STGP instead) get a base in
    /// the scratch page, granule-aligned nine times in ten (an STG-class store at an unaligned address is an
    /// Alignment fault); STGM, STZGM and LDGM (UNDEFINED at EL0) and the data-processing forms are taken as drawn.
    /// </summary>
    private bool MteInstruction(int row, uint w, A64Op op)
    {
        if (op != A64Op.LoadStoreTags)
        {
            return Finish(row, w, null, 0);
        }

        int rt = (int)Field(w, 0, 5), rn = (int)Field(w, 5, 5);
        uint opc = Field(w, 22, 2), op2 = Field(w, 10, 2);
        long offset = ((long)Field(w, 12, 9) << 55 >> 55) << 4;
        int align = _rng.Chance(90) ? 16 : 1;
        if (_rng.Chance(33))
        {
            // STGP Xt, Xt2, [Xn|SP]: post-index (001), signed offset (010), pre-index (011).
            uint index = (uint)_rng.Between(1, 3);
            uint stgp = 0x6800_0000u | (index << 23) | (w & 0x003F_FFFFu & ~(1u << 22));
            int rt2 = (int)Field(stgp, 10, 5);
            if (index != 2 && rn != 31 && (rt == rn || rt2 == rn))
            {
                return false; // writeback with Rn == Rt or Rt2: CONSTRAINED UNPREDICTABLE
            }

            long pairOffset = ((long)Field(stgp, 15, 7) << 57 >> 57) << 4;
            return Memory(A64Decoder.MatchingRow(stgp), stgp, rn, pairOffset, index == 1, 16, align, -1);
        }

        if (op2 == 0 && opc != 1)
        {
            return Finish(row, w, null, 0);
        }

        bool ldg = op2 == 0;
        return Memory(row, w, rn, offset, op2 == 1, ldg ? 1 : opc >= 2 ? 32 : 16, ldg ? 1 : align, -1);
    }

    /// <summary>One word of an <see cref="A64FocusedForms"/> form (register fields from the pool half of the time).</summary>
    private bool TryFocused((uint Mask, uint Value, int Row) form)
    {
        uint w = form.Value | ((uint)_rng.Next() & ~form.Mask);
        if (_usePool)
        {
            foreach (int lsb in (ReadOnlySpan<int>)[0, 5, 16])
            {
                if (((~form.Mask >> lsb) & 31) == 31)
                {
                    w = With(w, lsb, 5, (uint)_pool[_rng.Below(_pool.Length)]);
                }
            }
        }

        return Finish(form.Row, w, null, 0);
    }

    private static bool IsConstrainedAlways(A64Op op) => op is A64Op.BCond or A64Op.B or A64Op.Bl or A64Op.Cbz or A64Op.Cbnz
        or A64Op.Tbz or A64Op.Tbnz or A64Op.Br or A64Op.Blr or A64Op.Ret or A64Op.LdrLit or A64Op.LdrswLit or A64Op.LdrLitFp
        or A64Op.Ldxr or A64Op.Ldaxr or A64Op.Ldxp or A64Op.Ldaxp or A64Op.Stxr or A64Op.Stlxr or A64Op.Stxp or A64Op.Stlxp;

    private bool Finish(int row, uint w, FixKind? kind, int target)
    {
        if (A64Decoder.MatchingRow(w) != row)
        {
            return false;
        }

        if (kind is { } k)
        {
            EmitFixup(w, k, target);
        }
        else
        {
            Emit(w);
        }

        return true;
    }

    private static bool ValidLogicalImmediate(bool sf, uint n, uint imms)
    {
        if (!sf && n != 0)
        {
            return false;
        }

        uint combined = (n << 6) | (~imms & 0x3F);
        if (combined == 0)
        {
            return false;
        }

        int len = 31 - System.Numerics.BitOperations.LeadingZeroCount(combined);
        uint levels = (1u << len) - 1;
        return len >= 1 && (imms & levels) != levels;
    }

    /// <summary>
    /// A store-exclusive, either alone while the monitor is open (it must fail and store nothing) or
    /// paired with a load-exclusive of the same base, size and kind in front of it (it succeeds).
    /// </summary>
    private bool StoreExclusive(int row, uint w, A64Op op)
    {
        bool pair = op is A64Op.Stxp or A64Op.Stlxp;
        if (!pair)
        {
            w = With(w, 10, 5, 31);
        }

        int rt = (int)Field(w, 0, 5), rn = (int)Field(w, 5, 5), rs = (int)Field(w, 16, 5), rt2 = (int)Field(w, 10, 5);
        if (rs == rt || (rs == rn && rn != 31) || (pair && rs == rt2))
        {
            return false;
        }

        int bytes = pair ? 8 << (int)Field(w, 30, 1) : 1 << (int)(w >> 30);
        bool paired = _armed || _rng.Chance(60);
        if (!paired)
        {
            return Memory(row, w, rn, 0, false, bytes, bytes, -1);
        }

        // The load-exclusive must not overwrite the base.
        int lt = _rng.Below(32), lt2 = _rng.Below(32);
        if ((rn != 31 && (lt == rn || (pair && lt2 == rn))) || (pair && lt == lt2))
        {
            return false;
        }

        uint acquire = _rng.Chance(50) ? 1u << 15 : 0;
        uint load = pair
            ? 0x887F_0000u | (Field(w, 30, 1) << 30) | acquire | ((uint)lt2 << 10) | ((uint)rn << 5) | (uint)lt
            : 0x085F_7C00u | ((w >> 30) << 30) | acquire | ((uint)rn << 5) | (uint)lt;
        if (!Memory(row, w, rn, 0, false, bytes, bytes, -1, deferMain: true))
        {
            return false;
        }

        Emit(load);
        Emit(w);
        _armed = false;
        return true;
    }

    private bool Pair(int row, uint w, A64Op op)
    {
        uint opc = w >> 30;
        bool load = Field(w, 22, 1) != 0, simd = Field(w, 26, 1) != 0;
        if (opc == 3 || (!simd && opc == 1 && (!load || op == A64Op.LdStPairNoAlloc)))
        {
            return false;
        }

        int rt = (int)Field(w, 0, 5), rt2 = (int)Field(w, 10, 5), rn = (int)Field(w, 5, 5);
        bool writeback = op is A64Op.LdStPairPost or A64Op.LdStPairPre;
        if ((load && rt == rt2) || (!simd && writeback && rn != 31 && (rn == rt || rn == rt2)))
        {
            return false;
        }

        int scale = simd ? 2 + (int)opc : opc == 2 ? 3 : 2;
        long offset = ((long)Field(w, 15, 7) << 57 >> 57) << scale;
        int bytes = 1 << scale;
        return Memory(row, w, rn, offset, op == A64Op.LdStPairPost, 2 * bytes, _rng.Chance(50) ? bytes : 1, -1);
    }

    private bool Single(int row, uint w, A64Op op)
    {
        int size = (int)(w >> 30);
        uint opc = Field(w, 22, 2);
        bool prefetch = false, simd = Field(w, 26, 1) != 0;
        if (simd)
        {
            if (op == A64Op.LdStUnpriv || (opc >= 2 && size != 0))
            {
                return false;
            }

            if (opc >= 2)
            {
                size = 4;
            }
        }
        else if (opc == 2 && size == 3)
        {
            if (op is A64Op.LdStPost or A64Op.LdStPre or A64Op.LdStUnpriv)
            {
                return false;
            }

            prefetch = true;
        }
        else if (opc == 3 && size >= 2)
        {
            return false;
        }

        int rt = (int)Field(w, 0, 5), rn = (int)Field(w, 5, 5), rm = (int)Field(w, 16, 5);
        if (!simd && op is A64Op.LdStPost or A64Op.LdStPre && rn == rt && rn != 31)
        {
            return false;
        }

        if (op == A64Op.LdStRegOffset && (Field(w, 14, 1) == 0 || (rm == rn && rm != 31)))
        {
            return false;
        }

        if (prefetch)
        {
            // A prefetch never faults and never checks SP alignment (Arm ARM: "if memop != MemOp_PREFETCH
            // then CheckSPAlignment()"): its base stays whatever the block left in it, and an SP base is
            // made misaligned on purpose.
            if (rn == 31 && A64Decoder.MatchingRow(w) == row)
            {
                int reg = _rng.Below(31);
                Emit(0xD2A0_0000u | ((uint)(BaseWindow >> 16) << 5) | (uint)reg);
                Emit(0xF280_0000u | (((uint)_rng.Next() & 0xFFFF) << 5) | (uint)reg);
                Emit(0x9100_0000u | ((uint)reg << 5) | 31);
                Emit(w);
                return true;
            }

            return Finish(row, w, null, 0);
        }

        long offset;
        int avoid = -1;
        uint rmPrefix = 0;
        switch (op)
        {
            case A64Op.LdStUnsignedOffset:
                offset = (long)Field(w, 10, 12) << size;
                break;
            case A64Op.LdStRegOffset:
            {
                uint option = Field(w, 13, 3);

                long v = option == 2 ? _rng.Between(0, 64) : _rng.Between(-64, 64);
                if (rm == 31)
                {
                    v = 0;
                }
                else
                {
                    avoid = rm;
                    rmPrefix = v >= 0 ? 0xD280_0000u | ((uint)v << 5) | (uint)rm : 0x9280_0000u | (((uint)~v & 0xFFFF) << 5) | (uint)rm;
                }

                long extended = option switch
                {
                    2 => (long)(uint)v,
                    6 => (int)v,
                    _ => v,
                };
                offset = extended << (Field(w, 12, 1) != 0 ? size : 0);
                break;
            }

            default:
                offset = (long)Field(w, 12, 9) << 55 >> 55;
                break;
        }

        int bytes = 1 << size;
        if (!Memory(row, w, rn, offset, op == A64Op.LdStPost, bytes, _rng.Chance(50) ? bytes : 1, avoid, deferMain: rmPrefix != 0))
        {
            return false;
        }

        if (rmPrefix != 0)
        {
            Emit(rmPrefix);
            Emit(w);
        }

        return true;
    }

    /// <summary>
    /// Emits the base set-up and the access: picks an address in the scratch page with the given span
    /// and alignment, derives the base from the access's offset (16-byte aligned when the base is SP),
    /// and loads it with MOVZ/MOVK (and ADD SP, Xk, #0 through a temporary that is not <paramref name="avoid"/>).
    /// </summary>
    private bool Memory(int row, uint w, int rn, long offset, bool post, int span, int align, int avoid, bool deferMain = false)
    {
        if (A64Decoder.MatchingRow(w) != row)
        {
            return false;
        }

        for (int attempt = 0; attempt < 16; attempt++)
        {
            long slots = ((DiffLayout.ScratchSize - span) / align) + 1;
            long address = (long)DiffLayout.ScratchBase + (align * _rng.Below((int)slots));
            long b = post ? address : address - offset;
            if (rn == 31)
            {
                b &= ~15L;
                address = post ? b : b + offset;
                if (address < (long)DiffLayout.ScratchBase || address + span > (long)DiffLayout.ScratchBase + DiffLayout.ScratchSize
                    || address % align != 0)
                {
                    continue;
                }
            }

            if (b < (long)BaseWindow || b > (long)BaseWindow + 0xFFFF)
            {
                continue;
            }

            int reg = rn;
            if (rn == 31)
            {
                do
                {
                    reg = _rng.Below(31);
                }
                while (reg == avoid);
            }

            Emit(0xD2A0_0000u | ((uint)(BaseWindow >> 16) << 5) | (uint)reg);
            Emit(0xF280_0000u | (((uint)b & 0xFFFF) << 5) | (uint)reg);
            if (rn == 31)
            {
                Emit(0x9100_0000u | ((uint)reg << 5) | 31);
            }

            if (!deferMain)
            {
                Emit(w);
            }

            return true;
        }

        return false;
    }
}

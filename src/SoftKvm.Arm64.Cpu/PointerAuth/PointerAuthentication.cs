using SoftKvm.Arm64.Cpu.Decoder;
using SoftKvm.Arm64.Cpu.PointerAuth;

namespace SoftKvm.Arm64.Cpu;

/// <summary>
/// FEAT_PAuth (Arm ARM D8 "Pointer authentication" and the shared pseudocode AddPAC, Auth, Strip): the
/// pointer authentication code of a pointer is <see cref="CpuModel.PacAlgorithm"/>'s ComputePAC of the
/// pointer with its extension bits made good, the modifier and a 128-bit key, placed in the bits between
/// the top of the virtual address (64 - TCR_EL1.TnSZ, TnSZ limited to 16..39 as the MMU does) and bit 54
/// (or bit 63 without top-byte-ignore), bit 55 keeping the half of the address space. A failed
/// authentication (FEAT_PAuth without PAuth2/FPAC) gives the pointer with an error code (01 for the A keys,
/// 10 for the B keys) in bits 54:53 (with TBI) or 62:61, so its later use as an address faults with a
/// Translation fault. SCTLR_EL1.EnIA/EnIB/EnDA/EnDB (for EL0 and EL1) make the PAC* and AUT* of a key
/// return the pointer unchanged; XPAC* and PACGA have no enable. The keys are EL1 registers, UNDEFINED at
/// EL0; no EL2 exists in the guest's model, so HCR_EL2.API/APK never trap. On a model without the feature
/// the hint-space instructions (PACIASP, AUTIASP, XPACLRI, ...) are NOPs and the others UNDEFINED.
/// </summary>
public sealed partial class Arm64Cpu
{
    private const ulong SctlrEnIa = 1UL << 31;
    private const ulong SctlrEnIb = 1UL << 30;
    private const ulong SctlrEnDa = 1UL << 27;
    private const ulong SctlrEnDb = 1UL << 13;
    private const ulong TopByte = 0xFF00_0000_0000_0000;

    /// <summary>The keys, as indices of their Lo register in <see cref="CpuState.PacKeys"/> (Hi follows).</summary>
    private enum PacKey
    {
        Ia = 0,
        Ib = 2,
        Da = 4,
        Db = 6,
        Ga = 8,
    }

    /// <summary>The SCTLR_EL1 bits of FEAT_PAuth (with it): EnIA, EnIB, EnDA, EnDB.</summary>
    private ulong SctlrPauthBits => Has(CpuFeatures.Pauth) ? SctlrEnIa | SctlrEnIb | SctlrEnDa | SctlrEnDb : 0;

    /// <summary>The key register index (Lo, Hi of APIA, APIB, APDA, APDB, APGA: 0..9) system register <paramref name="key"/> names, or -1.</summary>
    private int PacKeyRegister(uint key)
    {
        // APIAKeyLo_EL1 .. APGAKeyHi_EL1: op0=3, op1=0, CRn=2, CRm=1..3, op2=0..3 (CRm=3: op2 0..1).
        if (!Has(CpuFeatures.Pauth) || (key >> 7) != ((3 << 7) | 2))
        {
            return -1;
        }

        int crm = (int)(key >> 3) & 15, op2 = (int)key & 7;
        return crm is >= 1 and <= 3 && op2 < (crm == 3 ? 2 : 4) ? ((crm - 1) * 4) + op2 : -1;
    }

    /// <summary>ComputePAC with key <paramref name="key"/> (K = Hi:Lo, key0 = Hi, key1 = Lo) under the model's algorithm.</summary>
    private ulong ComputePac(ulong data, ulong modifier, PacKey key)
    {
        ulong lo = State.PacKeys[(int)key], hi = State.PacKeys[(int)key + 1];
        return _model.PacAlgorithm == PacAlgorithm.Qarma5
            ? Qarma5.ComputePac(data, modifier, hi, lo)
            : PacImpdef.ComputePac(data, modifier, hi, lo);
    }

    /// <summary>EffectiveTBI for the EL1&amp;0 regime: TCR_EL1.TBIn, not for instruction addresses under TBIDn.</summary>
    private bool EffectiveTbi(ulong ptr, bool instruction)
    {
        bool upper = ((ptr >> 55) & 1) != 0;
        ulong tcr = State.TcrEl1;
        bool tbi = ((tcr >> (upper ? 38 : 37)) & 1) != 0;
        bool tbid = ((tcr >> (upper ? 52 : 51)) & 1) != 0;
        return tbi && (!instruction || !tbid);
    }

    /// <summary>CalculateBottomPACBit: 64 - TnSZ of the half <paramref name="upper"/> selects, TnSZ limited to 16..39.</summary>
    private int BottomPacBit(bool upper)
    {
        ulong tcr = State.TcrEl1;
        int tsz = (int)(upper ? (tcr >> 16) & 0x3F : tcr & 0x3F);
        return 64 - Math.Clamp(tsz, 16, 39);
    }

    /// <summary><paramref name="ptr"/> with the PAC field replaced by copies of bit 55 (or of <paramref name="upper"/>): the pointer a code was computed over.</summary>
    private static ulong Extended(ulong ptr, bool upper, bool tbi, int bottom)
    {
        ulong low = (1UL << bottom) - 1;
        ulong ext = upper ? ~low : 0;
        return tbi ? (ptr & TopByte) | (ext & ~TopByte) | (ptr & low) : ext | (ptr & low);
    }

    /// <summary>AddPAC: <paramref name="ptr"/> with the code of <paramref name="key"/> and <paramref name="modifier"/> in its PAC field.</summary>
    private ulong AddPac(ulong ptr, ulong modifier, PacKey key, bool data)
    {
        bool tbi = EffectiveTbi(ptr, !data);
        int top = tbi ? 55 : 63;
        ulong tcr = State.TcrEl1;
        bool tbi0 = ((tcr >> 37) & 1) != 0, tbi1 = ((tcr >> 38) & 1) != 0;
        bool tbid0 = ((tcr >> 51) & 1) != 0, tbid1 = ((tcr >> 52) & 1) != 0;
        bool fromBit55 = data ? tbi1 || tbi0 : (tbi1 && !tbid1) || (tbi0 && !tbid0);
        bool upper = ((ptr >> (fromBit55 ? 55 : 63)) & 1) != 0;
        int bottom = BottomPacBit(upper);
        ulong pac = ComputePac(Extended(ptr, upper, tbi, bottom), modifier, key);

        // Extension bits that are not all the same: the code is corrupted (PAC<top_bit - 1> inverted).
        ulong low = (1UL << bottom) - 1;
        ulong field = (top == 63 ? ulong.MaxValue : (1UL << (top + 1)) - 1) & ~low;
        if ((ptr & field) != 0 && (ptr & field) != field)
        {
            pac ^= 1UL << (top - 1);
        }

        ulong pacBits = ((1UL << 55) - 1) & ~low; // PAC<54:bottom>
        return ((tbi ? ptr : pac) & TopByte) | (upper ? 1UL << 55 : 0) | (pac & pacBits) | (ptr & low);
    }

    /// <summary>Auth: the pointer with its PAC field restored when the code matches, else with the error code of key <paramref name="keyB"/>.</summary>
    private ulong Auth(ulong ptr, ulong modifier, PacKey key, bool data, bool keyB)
    {
        bool tbi = EffectiveTbi(ptr, !data);
        bool upper = ((ptr >> 55) & 1) != 0;
        int bottom = BottomPacBit(upper);
        ulong original = Extended(ptr, upper, tbi, bottom);
        ulong pac = ComputePac(original, modifier, key);
        ulong checkedBits = (((1UL << 55) - 1) & ~((1UL << bottom) - 1)) | (tbi ? 0 : TopByte);
        if (((pac ^ ptr) & checkedBits) == 0)
        {
            return original;
        }

        ulong errorCode = keyB ? 2UL : 1UL;
        int at = tbi ? 53 : 61;
        return (original & ~(3UL << at)) | (errorCode << at);
    }

    /// <summary>Strip (XPACI, XPACD, XPACLRI): the pointer with its PAC field made extension bits again.</summary>
    private ulong Strip(ulong ptr, bool data)
    {
        bool upper = ((ptr >> 55) & 1) != 0;
        return Extended(ptr, upper, EffectiveTbi(ptr, !data), BottomPacBit(upper));
    }

    /// <summary>AddPACIA/IB/DA/DB: <paramref name="ptr"/> unchanged while the key's SCTLR_EL1.EnXX is 0.</summary>
    private ulong AddPac(ulong ptr, ulong modifier, PacKey key) =>
        (State.SctlrEl1 & EnableOf(key)) == 0 ? ptr : AddPac(ptr, modifier, key, key is PacKey.Da or PacKey.Db);

    /// <summary>AuthIA/IB/DA/DB: <paramref name="ptr"/> unchanged while the key's SCTLR_EL1.EnXX is 0.</summary>
    private ulong Auth(ulong ptr, ulong modifier, PacKey key) =>
        (State.SctlrEl1 & EnableOf(key)) == 0 ? ptr : Auth(ptr, modifier, key, key is PacKey.Da or PacKey.Db, key is PacKey.Ib or PacKey.Db);

    private static ulong EnableOf(PacKey key) => key switch
    {
        PacKey.Ia => SctlrEnIa,
        PacKey.Ib => SctlrEnIb,
        PacKey.Da => SctlrEnDa,
        _ => SctlrEnDb,
    };

    /// <summary>
    /// PACIA, PACIB, PACDA, PACDB, AUTIA, AUTIB, AUTDA, AUTDB (modifier Xn|SP), their Z forms (modifier
    /// zero, Rn = 31), XPACI and XPACD (Rn = 31): data processing (1 source), opcode2 = 00001.
    /// </summary>
    [A64Handler(A64Op.PacDataProcessing)]
    private Flow PacDataProcessing(uint insn)
    {
        int opcode = (int)(insn >> 10) & 0x3F, rn = (int)(insn >> 5) & 31, rd = (int)insn & 31;
        if (!Has(CpuFeatures.Pauth) || opcode > 0x11 || (opcode >= 8 && rn != 31))
        {
            return Undefined();
        }

        ulong value = X(rd);
        if (opcode >= 0x10)
        {
            SetX(rd, Strip(value, data: opcode == 0x11));
            return Flow.Next;
        }

        ulong modifier = opcode >= 8 ? 0 : XOrSp(rn);
        var key = (PacKey)((opcode & 3) * 2);
        SetX(rd, (opcode & 4) == 0 ? AddPac(value, modifier, key) : Auth(value, modifier, key));
        return Flow.Next;
    }

    /// <summary>PACGA: the top 32 bits of ComputePAC(Xn, Xm|SP, APGAKey), zeros below.</summary>
    [A64Handler(A64Op.Pacga)]
    private Flow Pacga(uint insn)
    {
        if (!Has(CpuFeatures.Pauth))
        {
            return Undefined();
        }

        ulong pac = ComputePac(X((int)(insn >> 5) & 31), XOrSp((int)(insn >> 16) & 31), PacKey.Ga);
        SetX((int)insn & 31, pac & 0xFFFF_FFFF_0000_0000);
        return Flow.Next;
    }

    /// <summary>
    /// The hint-space instructions: XPACLRI (X30), PACIA1716/PACIB1716/AUTIA1716/AUTIB1716 (X17 with
    /// modifier X16), PACIAZ/PACIBZ/AUTIAZ/AUTIBZ (X30, zero), PACIASP/PACIBSP/AUTIASP/AUTIBSP (X30, SP).
    /// NOPs on a model without FEAT_PAuth, as the hint space they are in.
    /// </summary>
    [A64Handler(A64Op.PacHint)]
    private Flow PacHint(uint insn)
    {
        if (!Has(CpuFeatures.Pauth))
        {
            return Flow.Next;
        }

        int hint = (int)(insn >> 5) & 0x7F;
        if (hint == 7)
        {
            State.X[30] = Strip(State.X[30], data: false);
            return Flow.Next;
        }

        bool x1716 = hint < 16;
        int rd = x1716 ? 17 : 30;
        ulong modifier = x1716 ? State.X[16] : (hint & 1) != 0 ? Sp : 0;
        var key = (hint & 2) != 0 ? PacKey.Ib : PacKey.Ia;
        bool auth = (hint & 4) != 0;
        State.X[rd] = auth ? Auth(State.X[rd], modifier, key) : AddPac(State.X[rd], modifier, key);
        return Flow.Next;
    }

    /// <summary>
    /// BRAA/BRAB (modifier Xm|SP), BRAAZ/BRABZ (zero), BLRAA/BLRAB, BLRAAZ/BLRABZ, RETAA/RETAB (X30,
    /// modifier SP), ERETAA/ERETAB (ELR_EL1, modifier SP): the target authenticated with the A or B
    /// instruction key, then the branch, call, return or exception return. PSTATE.BTYPE as BR, BLR, RET.
    /// </summary>
    [A64Handler(A64Op.BranchAuth)]
    private Flow BranchAuth(uint insn)
    {
        uint opc = (insn >> 21) & 0xF;
        int rn = (int)(insn >> 5) & 31, rm = (int)insn & 31;
        var key = ((insn >> 10) & 1) != 0 ? PacKey.Ib : PacKey.Ia;
        bool allocated = opc switch
        {
            0b1000 or 0b1001 => true,
            0b0000 or 0b0001 => rm == 31,
            0b0010 or 0b0100 => rn == 31 && rm == 31,
            _ => false,
        };
        if (!Has(CpuFeatures.Pauth) || !allocated)
        {
            return Undefined();
        }

        switch (opc)
        {
            case 0b0010:
                State.Pc = Auth(State.X[30], Sp, key);
                SetBtype(0);
                return Flow.Jump;
            case 0b0100:
                return State.El == 0 ? Undefined() : ExceptionReturn(Auth(State.ElrEl1, Sp, key));
        }

        ulong modifier = (opc & 8) != 0 ? XOrSp(rm) : 0;
        ulong target = Auth(X(rn), modifier, key);
        bool link = (opc & 1) != 0;
        SetBtype(link ? 2u : BtypeOfBr(rn));
        if (link)
        {
            State.X[30] = State.Pc + 4;
        }

        State.Pc = target;
        return Flow.Jump;
    }

    /// <summary>LDRAA/LDRAB: a 64-bit load from the base authenticated with the DA or DB key (modifier zero) plus a scaled offset; with writeback.</summary>
    [A64Handler(A64Op.LdrPac)]
    private Flow LoadRegisterPac(uint insn)
    {
        if (!Has(CpuFeatures.Pauth))
        {
            return Undefined();
        }

        int rt = (int)insn & 31, rn = (int)(insn >> 5) & 31;
        bool writeback = ((insn >> 11) & 1) != 0;
        ulong offset = SignExtend((((insn >> 22) & 1) << 9) | ((insn >> 12) & 0x1FF), 10) << 3;
        if (!BaseAddress(rn, out ulong baseAddress))
        {
            return Flow.Exception;
        }

        ulong address = Auth(baseAddress, 0, ((insn >> 23) & 1) != 0 ? PacKey.Db : PacKey.Da) + offset;
        if (!Read(address, 8, out ulong value, writeback ? 0 : Syndrome(3, false, rt, true)))
        {
            return FaultFlow;
        }

        SetX(rt, value);
        if (writeback)
        {
            SetXOrSp(rn, address);
        }

        return Flow.Next;
    }
}

namespace SoftKvm.Arm64.Cpu.Decoder;

/// <summary>
/// The A64 decode table (Arm ARM DDI 0487, chapter C4 "A64 Instruction Set Encoding"), one row per
/// instruction or encoding class, grouped under the manual's section headings. Each pattern is the
/// 32 instruction bits, bit 31 first: '0' and '1' must match, 'x' is any. Rows are tried in order;
/// where two rows overlap the more specific one comes first (the hint instructions before HINT).
/// Rows that name an encoding class (the load/store register forms) decode size/opc/V in their
/// handler, which raises UNDEFINED for the unallocated combinations.
/// </summary>
internal static class A64DecodeTable
{
    /// <summary>The rows, in decode priority order.</summary>
    public static readonly (string Pattern, A64Op Op)[] Rows =
    [
        // C4.1.86 Data processing -- immediate
        ("0xx10000xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Adr),
        ("1xx10000xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Adrp),
        ("x00100010xxxxxxxxxxxxxxxxxxxxxxx", A64Op.AddImm),
        ("x01100010xxxxxxxxxxxxxxxxxxxxxxx", A64Op.AddsImm),
        ("x10100010xxxxxxxxxxxxxxxxxxxxxxx", A64Op.SubImm),
        ("x11100010xxxxxxxxxxxxxxxxxxxxxxx", A64Op.SubsImm),
        ("x00100100xxxxxxxxxxxxxxxxxxxxxxx", A64Op.AndImm),
        ("x01100100xxxxxxxxxxxxxxxxxxxxxxx", A64Op.OrrImm),
        ("x10100100xxxxxxxxxxxxxxxxxxxxxxx", A64Op.EorImm),
        ("x11100100xxxxxxxxxxxxxxxxxxxxxxx", A64Op.AndsImm),
        ("x00100101xxxxxxxxxxxxxxxxxxxxxxx", A64Op.Movn),
        ("x10100101xxxxxxxxxxxxxxxxxxxxxxx", A64Op.Movz),
        ("x11100101xxxxxxxxxxxxxxxxxxxxxxx", A64Op.Movk),
        ("x00100110xxxxxxxxxxxxxxxxxxxxxxx", A64Op.Sbfm),
        ("x01100110xxxxxxxxxxxxxxxxxxxxxxx", A64Op.Bfm),
        ("x10100110xxxxxxxxxxxxxxxxxxxxxxx", A64Op.Ubfm),
        ("x00100111x0xxxxxxxxxxxxxxxxxxxxx", A64Op.Extr),
        ("1001000110xxxxxx00xxxxxxxxxxxxxx", A64Op.Addg),
        ("1101000110xxxxxx00xxxxxxxxxxxxxx", A64Op.Subg),

        // C4.1.87 Branches, exception generating and system instructions
        ("01010100xxxxxxxxxxxxxxxxxxx0xxxx", A64Op.BCond),
        ("11010100000xxxxxxxxxxxxxxxx00001", A64Op.Svc),
        ("11010100000xxxxxxxxxxxxxxxx00010", A64Op.Hvc),
        ("11010100000xxxxxxxxxxxxxxxx00011", A64Op.Smc),
        ("11010100001xxxxxxxxxxxxxxxx00000", A64Op.Brk),
        ("11010100010xxxxxxxxxxxxxxxx00000", A64Op.Hlt),
        ("11010101000000110010000000011111", A64Op.Nop),
        ("11010101000000110010000000111111", A64Op.Yield),
        ("11010101000000110010000001011111", A64Op.Wfe),
        ("11010101000000110010000001111111", A64Op.Wfi),
        ("11010101000000110010000010011111", A64Op.Sev),
        ("11010101000000110010000010111111", A64Op.Sevl),
        // The pointer authentication hints (FEAT_PAuth: XPACLRI, PACIA1716/PACIB1716/AUTIA1716/AUTIB1716,
        // PACIAZ/PACIASP/PACIBZ/PACIBSP/AUTIAZ/AUTIASP/AUTIBZ/AUTIBSP) and BTI (FEAT_BTI); NOPs without them.
        ("11010101000000110010000011111111", A64Op.PacHint),
        ("110101010000001100100001xx011111", A64Op.PacHint),
        ("110101010000001100100011xxx11111", A64Op.PacHint),
        ("110101010000001100100100xx011111", A64Op.Bti),
        ("11010101000000110010xxxxxxx11111", A64Op.Hint),
        ("11010101000000110011xxxx01011111", A64Op.Clrex),
        ("11010101000000110011xxxx10011111", A64Op.Dsb),
        ("11010101000000110011xxxx10111111", A64Op.Dmb),
        ("11010101000000110011xxxx11011111", A64Op.Isb),
        ("11010101000000110011000011111111", A64Op.Sb),
        ("11010101000000000100000000011111", A64Op.Cfinv),
        ("11010101000000000100000000111111", A64Op.Xaflag),
        ("11010101000000000100000001011111", A64Op.Axflag),
        ("1101010100000xxx0100xxxxxxx11111", A64Op.MsrImm),
        ("1101010100001xxxxxxxxxxxxxxxxxxx", A64Op.Sys),
        ("1101010100101xxxxxxxxxxxxxxxxxxx", A64Op.Sysl),
        ("110101010001xxxxxxxxxxxxxxxxxxxx", A64Op.MsrReg),
        ("110101010011xxxxxxxxxxxxxxxxxxxx", A64Op.Mrs),
        ("1101011000011111000000xxxxx00000", A64Op.Br),
        ("1101011000111111000000xxxxx00000", A64Op.Blr),
        ("1101011001011111000000xxxxx00000", A64Op.Ret),
        ("11010110100111110000001111100000", A64Op.Eret),
        ("1101011xxxx1111100001xxxxxxxxxxx", A64Op.BranchAuth), // BRAA(Z)/BRAB(Z), BLRAA(Z)/BLRAB(Z), RETAA/RETAB, ERETAA/ERETAB (FEAT_PAuth)
        ("000101xxxxxxxxxxxxxxxxxxxxxxxxxx", A64Op.B),
        ("100101xxxxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Bl),
        ("x0110100xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Cbz),
        ("x0110101xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Cbnz),
        ("x0110110xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Tbz),
        ("x0110111xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.Tbnz),

        // C4.1.88 Loads and stores: exclusive and ordered
        ("xx001000000xxxxx0xxxxxxxxxxxxxxx", A64Op.Stxr),
        ("xx001000000xxxxx1xxxxxxxxxxxxxxx", A64Op.Stlxr),
        ("xx001000010xxxxx0xxxxxxxxxxxxxxx", A64Op.Ldxr),
        ("xx001000010xxxxx1xxxxxxxxxxxxxxx", A64Op.Ldaxr),
        ("1x001000001xxxxx0xxxxxxxxxxxxxxx", A64Op.Stxp),
        ("1x001000001xxxxx1xxxxxxxxxxxxxxx", A64Op.Stlxp),
        ("1x001000011xxxxx0xxxxxxxxxxxxxxx", A64Op.Ldxp),
        ("1x001000011xxxxx1xxxxxxxxxxxxxxx", A64Op.Ldaxp),
        ("xx001000100xxxxx1xxxxxxxxxxxxxxx", A64Op.Stlr),
        ("xx001000110xxxxx1xxxxxxxxxxxxxxx", A64Op.Ldar),
        ("xx0010001x1xxxxxx11111xxxxxxxxxx", A64Op.Cas),
        ("0x0010000x1xxxxxx11111xxxxxxxxxx", A64Op.Casp),

        // Atomic memory operations (FEAT_LSE; LDAPR: FEAT_LRCPC) and LDAPR/STLR (unscaled immediate) (FEAT_LRCPC2)
        ("xx111000xx1xxxxxxxxx00xxxxxxxxxx", A64Op.AtomicMemory),
        ("xx011001xx0xxxxxxxxx00xxxxxxxxxx", A64Op.LdapurStlur),

        // Load/store memory tags (FEAT_MTE: STG, STZG, ST2G, STZ2G, LDG, STGM, STZGM, LDGM; MemoryTagging.cs)
        ("11011001xx1xxxxxxxxxxxxxxxxxxxxx", A64Op.LoadStoreTags),

        // Load register (literal)
        ("0x011000xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdrLit),
        ("10011000xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdrswLit),
        ("11011000xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.PrfmLit),
        ("xx011100xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdrLitFp),

        // Load/store register pair
        ("xx101x000xxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdStPairNoAlloc),
        ("xx101x001xxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdStPairPost),
        ("xx101x010xxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdStPairOffset),
        ("xx101x011xxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdStPairPre),

        // Load/store register (unscaled, post-index, unprivileged, pre-index, register offset, unsigned offset)
        ("11111000xx1xxxxxxxxxx1xxxxxxxxxx", A64Op.LdrPac), // LDRAA/LDRAB (FEAT_PAuth)
        ("xx111x00xx0xxxxxxxxx00xxxxxxxxxx", A64Op.LdStUnscaled),
        ("xx111x00xx0xxxxxxxxx01xxxxxxxxxx", A64Op.LdStPost),
        ("xx111x00xx0xxxxxxxxx10xxxxxxxxxx", A64Op.LdStUnpriv),
        ("xx111x00xx0xxxxxxxxx11xxxxxxxxxx", A64Op.LdStPre),
        ("xx111x00xx1xxxxxxxxx10xxxxxxxxxx", A64Op.LdStRegOffset),
        ("xx111x01xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.LdStUnsignedOffset),

        // C4.1.89 Data processing -- register
        ("x0001010xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.AndShifted),
        ("x0001010xx1xxxxxxxxxxxxxxxxxxxxx", A64Op.BicShifted),
        ("x0101010xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.OrrShifted),
        ("x0101010xx1xxxxxxxxxxxxxxxxxxxxx", A64Op.OrnShifted),
        ("x1001010xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.EorShifted),
        ("x1001010xx1xxxxxxxxxxxxxxxxxxxxx", A64Op.EonShifted),
        ("x1101010xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.AndsShifted),
        ("x1101010xx1xxxxxxxxxxxxxxxxxxxxx", A64Op.BicsShifted),
        ("x0001011xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.AddShifted),
        ("x0101011xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.AddsShifted),
        ("x1001011xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.SubShifted),
        ("x1101011xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.SubsShifted),
        ("x0001011001xxxxxxxxxxxxxxxxxxxxx", A64Op.AddExt),
        ("x0101011001xxxxxxxxxxxxxxxxxxxxx", A64Op.AddsExt),
        ("x1001011001xxxxxxxxxxxxxxxxxxxxx", A64Op.SubExt),
        ("x1101011001xxxxxxxxxxxxxxxxxxxxx", A64Op.SubsExt),
        ("x0011010000xxxxx000000xxxxxxxxxx", A64Op.Adc),
        ("x0111010000xxxxx000000xxxxxxxxxx", A64Op.Adcs),
        ("10111010000xxxxxx00001xxxxx0xxxx", A64Op.Rmif),
        ("00111010000000000x0010xxxxx01101", A64Op.Setf),
        ("x1011010000xxxxx000000xxxxxxxxxx", A64Op.Sbc),
        ("x1111010000xxxxx000000xxxxxxxxxx", A64Op.Sbcs),
        ("x0111010010xxxxxxxxx00xxxxx0xxxx", A64Op.CcmnReg),
        ("x1111010010xxxxxxxxx00xxxxx0xxxx", A64Op.CcmpReg),
        ("x0111010010xxxxxxxxx10xxxxx0xxxx", A64Op.CcmnImm),
        ("x1111010010xxxxxxxxx10xxxxx0xxxx", A64Op.CcmpImm),
        ("x0011010100xxxxxxxxx00xxxxxxxxxx", A64Op.Csel),
        ("x0011010100xxxxxxxxx01xxxxxxxxxx", A64Op.Csinc),
        ("x1011010100xxxxxxxxx00xxxxxxxxxx", A64Op.Csinv),
        ("x1011010100xxxxxxxxx01xxxxxxxxxx", A64Op.Csneg),
        ("x0011010110xxxxx000010xxxxxxxxxx", A64Op.Udiv),
        ("x0011010110xxxxx000011xxxxxxxxxx", A64Op.Sdiv),
        ("x0011010110xxxxx001000xxxxxxxxxx", A64Op.Lslv),
        ("x0011010110xxxxx001001xxxxxxxxxx", A64Op.Lsrv),
        ("x0011010110xxxxx001010xxxxxxxxxx", A64Op.Asrv),
        ("x0011010110xxxxx001011xxxxxxxxxx", A64Op.Rorv),
        ("x0011010110xxxxx0100xxxxxxxxxxxx", A64Op.Crc32),
        ("x0011010110xxxxx0101xxxxxxxxxxxx", A64Op.Crc32c),
        ("x101101011000000000000xxxxxxxxxx", A64Op.Rbit),
        ("x101101011000000000001xxxxxxxxxx", A64Op.Rev16),
        ("1101101011000000000010xxxxxxxxxx", A64Op.Rev32),
        ("0101101011000000000010xxxxxxxxxx", A64Op.Rev),
        ("1101101011000000000011xxxxxxxxxx", A64Op.Rev),
        ("x101101011000000000100xxxxxxxxxx", A64Op.Clz),
        ("11011010110000010xxxxxxxxxxxxxxx", A64Op.PacDataProcessing), // PAC*, AUT*, XPAC* (FEAT_PAuth; the handler checks the opcode and Rn of the Z forms)
        ("10011010110xxxxx001100xxxxxxxxxx", A64Op.Pacga),
        ("x101101011000000000101xxxxxxxxxx", A64Op.Cls),
        ("x0011011000xxxxx0xxxxxxxxxxxxxxx", A64Op.Madd),
        ("x0011011000xxxxx1xxxxxxxxxxxxxxx", A64Op.Msub),
        ("10011011001xxxxx0xxxxxxxxxxxxxxx", A64Op.Smaddl),
        ("10011011001xxxxx1xxxxxxxxxxxxxxx", A64Op.Smsubl),
        ("10011011010xxxxx0xxxxxxxxxxxxxxx", A64Op.Smulh),
        ("10011011101xxxxx0xxxxxxxxxxxxxxx", A64Op.Umaddl),
        ("10011011101xxxxx1xxxxxxxxxxxxxxx", A64Op.Umsubl),
        ("10011011110xxxxx0xxxxxxxxxxxxxxx", A64Op.Umulh),
        ("10011010110xxxxx000000xxxxxxxxxx", A64Op.Subp),
        ("10111010110xxxxx000000xxxxxxxxxx", A64Op.Subps),
        ("10011010110xxxxx000100xxxxxxxxxx", A64Op.Irg),
        ("10011010110xxxxx000101xxxxxxxxxx", A64Op.Gmi),

        // C4.1.90 Data processing -- scalar floating-point and Advanced SIMD (moves only)
        ("x0011110xx10x11x000000xxxxxxxxxx", A64Op.FmovGeneral),
        ("00011110xx100000010000xxxxxxxxxx", A64Op.FmovReg),
        ("00011110xx1xxxxxxxx10000000xxxxx", A64Op.FmovImm),
        ("0xx0111100000xxxxxxx01xxxxxxxxxx", A64Op.Movi),
        ("0x001110000xxxxx000011xxxxxxxxxx", A64Op.DupGeneral),
        ("0x001110000xxxxx001111xxxxxxxxxx", A64Op.UmovToGeneral),
        ("01001110000xxxxx000111xxxxxxxxxx", A64Op.InsGeneral),
        ("01101110000xxxxx0xxxx1xxxxxxxxxx", A64Op.InsElement),

        // C4.1.96 Data processing -- scalar floating-point (FpSimd/FpDataProcessing.cs)
        ("x0011110xx1xxxxx000000xxxxxxxxxx", A64Op.FpIntConversion),
        ("x0011110xx0xxxxxxxxxxxxxxxxxxxxx", A64Op.FpFixedConversion),
        ("00011110xx1xxxxxx10000xxxxxxxxxx", A64Op.FpDataProc1),
        ("00011110xx1xxxxxxx1000xxxxxxxxxx", A64Op.FpCompare),
        ("00011110xx1xxxxxxxxx01xxxxxxxxxx", A64Op.FpCondCompare),
        ("00011110xx1xxxxxxxxx10xxxxxxxxxx", A64Op.FpDataProc2),
        ("00011110xx1xxxxxxxxx11xxxxxxxxxx", A64Op.FpCondSelect),
        ("00011111xxxxxxxxxxxxxxxxxxxxxxxx", A64Op.FpDataProc3),

        // C4.1.95 Advanced SIMD (FpSimd/AdvSimd*.cs)
        ("0x001110000xxxxx000001xxxxxxxxxx", A64Op.SimdDupElement),
        ("0x001110000xxxxx001011xxxxxxxxxx", A64Op.SimdSmov),
        ("01011110000xxxxx000001xxxxxxxxxx", A64Op.SimdScalarDupElement),
        ("0xx01110xx1xxxxxxxxxx1xxxxxxxxxx", A64Op.SimdThreeSame),
        ("0xx01110xx0xxxxx1xxxx1xxxxxxxxxx", A64Op.SimdThreeSameExtra),
        ("01x11110xx0xxxxx1xxxx1xxxxxxxxxx", A64Op.SimdScalarThreeSameExtra),

        // Cryptographic AES, three-register SHA, two-register SHA (FpSimd/Crypto/)
        ("01001110xx10100xxxxx10xxxxxxxxxx", A64Op.CryptoAes),
        ("01011110xx0xxxxx0xxx00xxxxxxxxxx", A64Op.CryptoSha3Reg),
        ("01011110xx10100xxxxx10xxxxxxxxxx", A64Op.CryptoSha2Reg),
        ("110011100xxxxxxx0xxxxxxxxxxxxxxx", A64Op.CryptoFourReg),
        ("11001110100xxxxxxxxxxxxxxxxxxxxx", A64Op.CryptoXar),
        ("11001110011xxxxx1x00xxxxxxxxxxxx", A64Op.CryptoSha512ThreeReg),
        ("11001110110000001000xxxxxxxxxxxx", A64Op.CryptoSha512TwoReg),
        ("11001110010xxxxx10xxxxxxxxxxxxxx", A64Op.CryptoSm3Tt),
        ("0xx01110xx10000xxxxx10xxxxxxxxxx", A64Op.SimdTwoRegMisc),
        ("0xx01110xx11000xxxxx10xxxxxxxxxx", A64Op.SimdAcrossLanes),
        ("0xx01110xx1xxxxxxxxx00xxxxxxxxxx", A64Op.SimdThreeDifferent),
        ("0xx011110xxxxxxxxxxxx1xxxxxxxxxx", A64Op.SimdShiftImmediate),
        ("0x001110xx0xxxxx0xxx10xxxxxxxxxx", A64Op.SimdPermute),
        ("0x001110xx0xxxxx0xxx00xxxxxxxxxx", A64Op.SimdTableLookup),
        ("0x101110xx0xxxxx0xxxx0xxxxxxxxxx", A64Op.SimdExtract),
        ("01x11110xx1xxxxxxxxxx1xxxxxxxxxx", A64Op.SimdScalarThreeSame),
        ("01x11110xx10000xxxxx10xxxxxxxxxx", A64Op.SimdScalarTwoRegMisc),
        ("01x11110xx11000xxxxx10xxxxxxxxxx", A64Op.SimdScalarPairwise),
        ("01x11110xx1xxxxxxxxx00xxxxxxxxxx", A64Op.SimdScalarThreeDifferent),
        ("01x111110xxxxxxxxxxxx1xxxxxxxxxx", A64Op.SimdScalarShiftImmediate),
        ("0xx01111xxxxxxxxxxxxx0xxxxxxxxxx", A64Op.SimdIndexedElement),
        ("01x11111xxxxxxxxxxxxx0xxxxxxxxxx", A64Op.SimdScalarIndexedElement),

        // C4.1.88 Advanced SIMD load/store multiple and single structures (FpSimd/AdvSimdLoadStoreStructure.cs)
        ("0x0011000x000000xxxxxxxxxxxxxxxx", A64Op.SimdLdStMultiple),
        ("0x0011001x0xxxxxxxxxxxxxxxxxxxxx", A64Op.SimdLdStMultiple),
        ("0x0011010xx00000xxxxxxxxxxxxxxxx", A64Op.SimdLdStSingle),
        ("0x0011011xxxxxxxxxxxxxxxxxxxxxxx", A64Op.SimdLdStSingle),
    ];
}

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

        // C4.1.87 Branches, exception generating and system instructions
        ("01010100xxxxxxxxxxxxxxxxxxx0xxxx", A64Op.BCond),
        ("11010100000xxxxxxxxxxxxxxxx00001", A64Op.Svc),
        ("11010100000xxxxxxxxxxxxxxxx00010", A64Op.Hvc),
        ("11010100000xxxxxxxxxxxxxxxx00011", A64Op.Smc),
        ("11010100001xxxxxxxxxxxxxxxx00000", A64Op.Brk),
        ("11010101000000110010000000011111", A64Op.Nop),
        ("11010101000000110010000000111111", A64Op.Yield),
        ("11010101000000110010000001011111", A64Op.Wfe),
        ("11010101000000110010000001111111", A64Op.Wfi),
        ("11010101000000110010000010011111", A64Op.Sev),
        ("11010101000000110010000010111111", A64Op.Sevl),
        ("11010101000000110010xxxxxxx11111", A64Op.Hint),
        ("11010101000000110011xxxx01011111", A64Op.Clrex),
        ("11010101000000110011xxxx10011111", A64Op.Dsb),
        ("11010101000000110011xxxx10111111", A64Op.Dmb),
        ("11010101000000110011xxxx11011111", A64Op.Isb),
        ("1101010100000xxx0100xxxxxxx11111", A64Op.MsrImm),
        ("1101010100001xxxxxxxxxxxxxxxxxxx", A64Op.Sys),
        ("1101010100101xxxxxxxxxxxxxxxxxxx", A64Op.Sysl),
        ("110101010001xxxxxxxxxxxxxxxxxxxx", A64Op.MsrReg),
        ("110101010011xxxxxxxxxxxxxxxxxxxx", A64Op.Mrs),
        ("1101011000011111000000xxxxx00000", A64Op.Br),
        ("1101011000111111000000xxxxx00000", A64Op.Blr),
        ("1101011001011111000000xxxxx00000", A64Op.Ret),
        ("11010110100111110000001111100000", A64Op.Eret),
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
        ("x101101011000000000101xxxxxxxxxx", A64Op.Cls),
        ("x0011011000xxxxx0xxxxxxxxxxxxxxx", A64Op.Madd),
        ("x0011011000xxxxx1xxxxxxxxxxxxxxx", A64Op.Msub),
        ("10011011001xxxxx0xxxxxxxxxxxxxxx", A64Op.Smaddl),
        ("10011011001xxxxx1xxxxxxxxxxxxxxx", A64Op.Smsubl),
        ("10011011010xxxxx0xxxxxxxxxxxxxxx", A64Op.Smulh),
        ("10011011101xxxxx0xxxxxxxxxxxxxxx", A64Op.Umaddl),
        ("10011011101xxxxx1xxxxxxxxxxxxxxx", A64Op.Umsubl),
        ("10011011110xxxxx0xxxxxxxxxxxxxxx", A64Op.Umulh),

        // C4.1.90 Data processing -- scalar floating-point and Advanced SIMD (moves only)
        ("x0011110xx10x11x000000xxxxxxxxxx", A64Op.FmovGeneral),
        ("00011110xx100000010000xxxxxxxxxx", A64Op.FmovReg),
        ("00011110xx1xxxxxxxx10000000xxxxx", A64Op.FmovImm),
        ("0xx0111100000xxxxxxx01xxxxxxxxxx", A64Op.Movi),
        ("0x001110000xxxxx000011xxxxxxxxxx", A64Op.DupGeneral),
        ("0x001110000xxxxx001111xxxxxxxxxx", A64Op.UmovToGeneral),
        ("01001110000xxxxx000111xxxxxxxxxx", A64Op.InsGeneral),
        ("01101110000xxxxx0xxxx1xxxxxxxxxx", A64Op.InsElement),
    ];
}

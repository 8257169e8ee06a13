namespace SoftKvm.Arm64.Cpu.Translation.Native.Ir;

/// <summary>What an <see cref="IrOpcode.Pac"/> operation does to its pointer.</summary>
internal enum PacOperation
{
    /// <summary>AddPAC: the code of the key and the modifier put in the PAC field (PACIA, PACIASP, ...).</summary>
    Add,

    /// <summary>Auth: the PAC field restored when the code matches, else the key's error code (AUTIA, AUTIASP, ...).</summary>
    Auth,

    /// <summary>Strip: the PAC field made extension bits again (XPACI, XPACD, XPACLRI).</summary>
    Strip,
}

/// <summary>
/// The constants of one pointer authentication operation for one half of the address space (bit 55 of the
/// pointer, or bit 63 for AddPAC when no top-byte-ignore applies), as the interpreter computes them from
/// TCR_EL1 (Arm64Cpu's PointerAuthentication.cs: AddPac, Auth, Strip): the pointer the code is computed
/// over is <c>(ptr &amp; Keep) | Extension</c> (Extension is 0 in the lower half; in the upper one Keep and
/// Extension together cover every bit); AddPAC puts <c>code &amp; CodeMask</c> in the pointer, and Auth
/// compares <c>(code ^ ptr) &amp; CodeMask</c>.
/// </summary>
internal readonly record struct PacMasks(ulong Keep, ulong Extension, ulong CodeMask);

/// <summary>
/// The TCR_EL1 fields pointer authentication depends on, packed into bits 12-25 of a <see cref="BlockMode"/>
/// with <see cref="BlockMode.PacImpdef"/>: TBI0, TBI1, TBID0, TBID1 (12-15), T0SZ and T1SZ limited to 16..39,
/// less 16 (16-20, 21-25). Blocks are compiled for these values and found by them, so a write that changes one
/// makes the run loop pick (or translate) blocks for the new values. The SCTLR_EL1 enables (EnIA, EnIB, EnDA,
/// EnDB) are not in the mode: the inline code tests them (<see cref="EnableBit"/>), as Linux flips them at
/// context switches between kernel threads and user tasks (bits 8-11 of the mode stay 0).
/// </summary>
internal static class PacConfiguration
{
    private const int TbiShift = 12;
    private const int T0szShift = 16;
    private const int T1szShift = 21;
    private const ulong TopByte = 0xFF00_0000_0000_0000;

    /// <summary>The configuration bits of <paramref name="tcr"/> (to OR into the mode).</summary>
    public static BlockMode Of(ulong tcr)
    {
        uint tbi = (uint)(((tcr >> 37) & 1) | (((tcr >> 38) & 1) << 1) | (((tcr >> 51) & 1) << 2) | (((tcr >> 52) & 1) << 3));
        uint t0 = (uint)Math.Clamp((int)(tcr & 0x3F), 16, 39) - 16, t1 = (uint)Math.Clamp((int)((tcr >> 16) & 0x3F), 16, 39) - 16;
        return (BlockMode)((tbi << TbiShift) | (t0 << T0szShift) | (t1 << T1szShift));
    }

    /// <summary>The SCTLR_EL1 bit that enables key <paramref name="key"/> (0-3: IA, IB, DA, DB: EnIA 31, EnIB 30, EnDA 27, EnDB 13).</summary>
    public static uint EnableBit(int key) => key switch
    {
        0 => 1u << 31,
        1 => 1u << 30,
        2 => 1u << 27,
        _ => 1u << 13,
    };

    /// <summary>The bit of the pointer that selects the half whose constants apply.</summary>
    public static int SelectorBit(BlockMode mode, PacOperation operation, bool data)
    {
        if (operation != PacOperation.Add)
        {
            return 55;
        }

        bool tbi0 = Tbi(mode, 0), tbi1 = Tbi(mode, 1), tbid0 = Tbid(mode, 0), tbid1 = Tbid(mode, 1);
        bool fromBit55 = data ? tbi1 || tbi0 : (tbi1 && !tbid1) || (tbi0 && !tbid0);
        return fromBit55 ? 55 : 63;
    }

    /// <summary>The constants of <paramref name="operation"/> for pointers whose selector bit is <paramref name="upper"/>.</summary>
    public static PacMasks Masks(BlockMode mode, PacOperation operation, bool data, bool upper)
    {
        // EffectiveTBI looks at bit 55; where AddPAC selects by bit 63, no top-byte-ignore applies to either half.
        bool tbi = (SelectorBit(mode, operation, data) == 55) && EffectiveTbi(mode, upper, !data);
        int tsz = (int)((uint)mode >> (upper ? T1szShift : T0szShift)) & 31;
        int bottom = 64 - (tsz + 16);
        ulong low = (1UL << bottom) - 1;
        ulong ext = upper ? ~low : 0;
        ulong codeMask = (((1UL << 55) - 1) & ~low) | (tbi ? 0 : TopByte);
        return new PacMasks(Keep: low | (tbi ? TopByte : 0), Extension: tbi ? ext & ~TopByte : ext, CodeMask: codeMask);
    }

    private static bool Tbi(BlockMode mode, int half) => (((uint)mode >> (TbiShift + half)) & 1) != 0;

    private static bool Tbid(BlockMode mode, int half) => (((uint)mode >> (TbiShift + 2 + half)) & 1) != 0;

    private static bool EffectiveTbi(BlockMode mode, bool upper, bool instruction)
    {
        int half = upper ? 1 : 0;
        return Tbi(mode, half) && (!instruction || !Tbid(mode, half));
    }
}
